from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiny_model import build_tiny_model

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLYRET_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random sentence-transformers model, built once per test session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The staged data folder (../shared/data or $POLYRET_DATA); skips when absent."""
    if not (SHARED_DATA / "lareqa").is_dir():
        pytest.skip(f"staged data not found at {SHARED_DATA}")
    return SHARED_DATA
