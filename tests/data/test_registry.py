"""Where datasets are looked for: --data-dir, $POLYRET_DATA, the cache, a staged shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyret.data import registry
from polyret.errors import DataError


def _stage(root: Path) -> Path:
    folder = root / "lareqa" / "xquad-r"
    folder.mkdir(parents=True)
    (folder / "en.json").write_text("{}", encoding="utf-8")
    return folder


@pytest.fixture
def fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone beside a staged shared/data, as in this workplace; no $POLYRET_DATA, no network."""
    clone = tmp_path / "clone"
    clone.mkdir()
    monkeypatch.chdir(clone)
    monkeypatch.delenv("POLYRET_DATA", raising=False)
    monkeypatch.setenv("POLYRET_CACHE", str(tmp_path / "cache"))

    def offline(url: str, timeout: float = 60.0) -> bytes:
        raise OSError("offline")

    monkeypatch.setattr(registry, "_fetch", offline)
    monkeypatch.setattr(registry, "_checkout", lambda: clone)
    return clone


def test_a_fresh_clone_finds_the_staged_shared_data(fresh_clone: Path) -> None:
    staged = _stage(fresh_clone.parent / "shared" / "data")
    assert registry.locate_dataset("xquad-r") == staged


def test_the_staged_folder_is_found_beside_the_checkout_from_anywhere(
    fresh_clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _stage(fresh_clone.parent / "shared" / "data")
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert registry.locate_dataset("xquad-r") == staged


def test_the_cache_comes_before_the_staged_folder(fresh_clone: Path, tmp_path: Path) -> None:
    _stage(fresh_clone.parent / "shared" / "data")
    cached = _stage(tmp_path / "cache" / "data")
    assert registry.locate_dataset("xquad-r") == cached


def test_without_staged_data_the_download_is_tried(fresh_clone: Path) -> None:
    with pytest.raises(DataError, match=r"download of .* failed"):
        registry.locate_dataset("xquad-r")


def test_an_explicit_data_dir_must_hold_the_dataset(fresh_clone: Path, tmp_path: Path) -> None:
    _stage(fresh_clone.parent / "shared" / "data")
    with pytest.raises(DataError, match="xquad-r not found"):
        registry.locate_dataset("xquad-r", tmp_path / "elsewhere")
