from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyret.testing.translation import build_tiny_m2m, build_tiny_marian, build_tiny_nllb
from translate.squad_fixture import SQUAD, fixture_texts


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; more only spin on a shared, loaded CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny one-direction Marian model (en -> anything)."""
    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "opus-mt-en-de", fixture_texts())


@pytest.fixture(scope="session")
def marian_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding opus-mt-en-de and opus-mt-en-es (different seeds), for templates."""
    root = tmp_path_factory.mktemp("opus")
    build_tiny_marian(root / "opus-mt-en-de", fixture_texts(), seed=1)
    build_tiny_marian(root / "opus-mt-en-es", fixture_texts(), seed=2)
    return root


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_nllb(tmp_path_factory.mktemp("nllb") / "nllb", fixture_texts())


@pytest.fixture(scope="session")
def m2m_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_m2m(tmp_path_factory.mktemp("m2m") / "m2m", fixture_texts())
