from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiny_model import build_tiny_model

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLYRET_DATA", REPO.parent / "shared" / "data"))
# Tests never write into the user's own cache: the bundled model is converted once into
# the repo's git-ignored .cache/ unless POLYRET_CACHE says otherwise.
os.environ.setdefault("POLYRET_CACHE", str(REPO / ".cache" / "polyret-test"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random sentence-transformers model, built once per test session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_poolerless_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built like the bundled one: no pooling layer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-nopool") / "model", pooler=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The staged data folder (../shared/data or $POLYRET_DATA); skips when absent."""
    if not (SHARED_DATA / "lareqa").is_dir():
        pytest.skip(f"staged data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    """The converted bundled model (converted on first use into $POLYRET_CACHE)."""
    from polyret.models import resolve_model

    return resolve_model("bundled:multilingual-e5-small").path


@pytest.fixture
def bundled_stand_in(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model in the bundled model's place: ``bundled:multilingual-e5-small`` (every
    command's default) resolves to a converted copy of it, so defaults are testable in seconds."""
    import shutil

    from polyret.models import resolve as resolve_mod

    folder = tmp_path / "bundled-stand-in"
    shutil.copytree(tiny_model_dir, folder)
    (folder / resolve_mod.CONVERSION_MARKER).write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(resolve_mod, "bundled_cache_path", lambda name: folder)
    return folder
