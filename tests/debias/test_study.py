"""polyret.debias.study: the centering design studies behind results/debias/, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from evaluation.lareqa_fixtures import write_random_dataset
from polyret.data.lareqa import load_lareqa
from polyret.debias.study import (
    KEYS,
    QueryCentroidStudy,
    cached_encoding,
    disjoint_subsample,
    merge_rows,
    query_centroid_study,
    study_table,
    subsample,
    wiki_calibration,
)
from polyret.errors import ConfigError


def _pool(rows: int, langs: tuple[str, ...] = ("aa", "bb", "cc")) -> dict[str, Any]:
    """[kind][lang] [rows, 2]; row r of every language holds r (line-aligned text)."""
    one = {lang: torch.arange(rows, dtype=torch.float32)[:, None].repeat(1, 2) for lang in langs}
    return {"query": one, "passage": dict(one)}


def test_subsample_takes_the_same_lines_in_every_language() -> None:
    picked = subsample(_pool(30), 5)
    rows = {lang: picked["query"][lang][:, 0].tolist() for lang in ("aa", "bb", "cc")}
    assert len(rows["aa"]) == 5 and rows["aa"] == rows["bb"] == rows["cc"]
    assert subsample(_pool(3), 5)["passage"]["aa"].shape == (3, 2)  # all of them when fewer


def test_disjoint_subsample_shares_no_line_between_languages() -> None:
    picked = disjoint_subsample(_pool(30), 5)
    assert picked is not None
    lines = [set(picked["query"][lang][:, 0].tolist()) for lang in ("aa", "bb", "cc")]
    assert all(len(s) == 5 for s in lines)
    assert not (lines[0] & lines[1] or lines[0] & lines[2] or lines[1] & lines[2])
    assert disjoint_subsample(_pool(30), 11) is None  # 30 lines allow 10 per language


def test_merge_rows_replaces_the_rerun_variants_only() -> None:
    base = {"variant": "base", "multi_map": 0.3}
    old = [base, {"variant": "a x100", "multi_map": 0.4}, {"variant": "b x100", "multi_map": 0.5}]
    new = [base, {"variant": "b x100", "multi_map": 0.6}, {"variant": "b x300", "multi_map": 0.7}]
    merged = merge_rows(old, new, "b ")
    assert [(r["variant"], r["multi_map"]) for r in merged] == [
        ("base", 0.3), ("a x100", 0.4), ("b x100", 0.6), ("b x300", 0.7),
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="another model or encoding"):
        merge_rows(old, [{"variant": "base", "multi_map": 0.31}], "b ")


def test_wiki_calibration_leaves_out_the_evaluated_sentences(tmp_path: Path) -> None:
    target = load_lareqa(write_random_dataset(tmp_path / "t", seed=0))
    source = load_lareqa(write_random_dataset(tmp_path / "s", seed=1))
    texts = wiki_calibration(source, target, 1000)
    for lang in target.langs:
        evaluated = {c.text for c in target.languages[lang].candidates}
        assert texts[lang] and not set(texts[lang]) & evaluated
    with pytest.raises(ConfigError, match="has no"):
        wiki_calibration(load_lareqa(write_random_dataset(tmp_path / "x", ("aa",))), target, 5)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


def test_cached_encoding_is_reused_and_bound_to_its_model(tmp_path: Path, tiny_model: Any) -> None:
    dataset = load_lareqa(write_random_dataset(tmp_path / "d"))
    first = cached_encoding(tiny_model, "tiny", dataset, tmp_path / "cache", 8)
    again = cached_encoding(None, "tiny", dataset, tmp_path / "cache", 8)  # no model needed
    torch.testing.assert_close(first.candidates["bb"], again.candidates["bb"])
    with pytest.raises(ConfigError, match="was encoded by 'tiny', not 'other'"):
        cached_encoding(tiny_model, "other", dataset, tmp_path / "cache", 8)


def test_query_centroid_study_scores_every_variant(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_random_dataset(tmp_path / "eval", seed=0)
    calibration, queries = tmp_path / "calibration", tmp_path / "queries"
    for folder, what in ((calibration, "news sentence"), (queries, "real question")):
        folder.mkdir()
        for lang in ("aa", "bb", "cc"):
            lines = [f"{lang} {what} number {i}" for i in range(14)]
            (folder / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "study.json"
    study = QueryCentroidStudy(
        out=out, queries=str(queries), model=str(tiny_model_dir), dataset=str(data),
        calibration=str(calibration), sentences=[10], batch_size=16,
    )  # fmt: skip
    record = query_centroid_study(study)
    assert json.loads(out.read_text(encoding="utf-8"))["rows"] == record["rows"]
    variants = [row["variant"] for row in record["rows"]]
    assert variants[0] == "base" and variants[1] == f"center, {calibration} x10"
    assert f"center, {queries} questions x10 without bb" in variants
    assert variants[-1].startswith("reference: centroids of the evaluation texts")
    for row in record["rows"]:
        assert set(KEYS) <= row.keys() and 0.0 <= row["multi_map"] <= 1.0
    assert record["table"] == study_table(record["rows"], ("mono_map", "cross_map", "multi_map"))
    assert record["table"][0].endswith("| Δ mono | Δ cross | Δ multi |")
