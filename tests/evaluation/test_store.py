"""Saved evaluations are sealed: a truncated, corrupt or edited one counts as not done."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from lareqa_fixture import write_parallel_lareqa
from polyret.data.lareqa import load_lareqa
from polyret.evaluation import store
from polyret.evaluation.lareqa import LareqaEmbeddings, evaluate_lareqa_embeddings


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    data = load_lareqa(write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=2))
    gen = torch.Generator().manual_seed(0)
    embeddings = LareqaEmbeddings(
        queries={
            k: torch.randn(len(v.questions), 8, generator=gen) for k, v in data.languages.items()
        },
        candidates={
            k: torch.randn(len(v.candidates), 8, generator=gen) for k, v in data.languages.items()
        },
    )
    result = evaluate_lareqa_embeddings(data, embeddings)
    return store.save_result(result, tmp_path / "eval", {"model": "m"})


def test_a_saved_evaluation_is_sealed_and_whole(saved: Path) -> None:
    assert (saved / store.SEAL_FILE).read_text().count("  ") == 3
    assert store.problem(saved) is None and store.is_saved(saved)


@pytest.mark.parametrize(
    "damage",
    ["truncate ranks", "edit results", "drop settings"],
)
def test_a_damaged_evaluation_is_reported_and_not_done(
    saved: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    if damage == "truncate ranks":
        data = (saved / store.RANKS_FILE).read_bytes()
        (saved / store.RANKS_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "edit results":
        text = (saved / store.DONE_FILE).read_text()
        (saved / store.DONE_FILE).write_text(text.replace('"model": "m"', '"model": "x"'))
    else:
        (saved / store.SETTINGS_FILE).unlink()
    with caplog.at_level(logging.WARNING, logger="polyret.evaluation.store"):
        assert not store.is_saved(saved)
    assert store.problem(saved) is not None
    if damage != "drop settings":
        assert "does not match" in caplog.text and "evaluated again" in caplog.text


def test_an_evaluation_saved_before_the_seal_is_checked_by_loading(saved: Path) -> None:
    (saved / store.SEAL_FILE).unlink()
    assert store.is_saved(saved)  # whole: accepted
    data = (saved / store.RANKS_FILE).read_bytes()
    (saved / store.RANKS_FILE).write_bytes(data[:-200])
    assert not store.is_saved(saved)
    assert "cannot be read" in (store.problem(saved) or "")


def test_seal_rewrites_the_checksums(saved: Path) -> None:
    (saved / store.DONE_FILE).write_text((saved / store.DONE_FILE).read_text() + "\n")
    assert not store.is_saved(saved)
    store.seal(saved)
    assert store.is_saved(saved)
    assert np.load(saved / store.RANKS_FILE, allow_pickle=False)["ranks_0"].size > 0
