"""``polyret eval --dataset ntrex`` end to end on a fake NTREX-128 with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ntrex_fixture import write_ntrex
from polyret.cli.main import main

CODES = {"en": "src.eng", "de": "deu", "es": "spa"}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Evaluation: doc.c (3 lines), doc.k (2); calibration: doc.a (12 lines)."""
    docs = ["doc.c"] * 3 + ["doc.a"] * 12 + ["doc.k"] * 2
    words = {"en": "river", "de": "Fluss", "es": "río"}
    lines = {
        code: [f"{words[lang]} {i} {words[lang]} number {i}." for i in range(len(docs))]
        for lang, code in CODES.items()
    }
    write_ntrex(tmp_path / "data", lines, docs)
    return tmp_path / "data"


def _argv(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", str(model), "--dataset", "ntrex", "--languages", "en", "de", "es",
            "--data-dir", str(data), "--out", str(out), "--no-progress", "--batch-size", "8",
            *extra]  # fmt: skip


def test_eval_ntrex_writes_everything(
    data: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert (
        main(_argv(tiny_model_dir, data, out, "--debias", "ntrex", "--debias-sentences", "10")) == 0
    )
    console = capsys.readouterr().out
    assert "cross-lingual X→Y" in console and "monolingual" not in console
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.md", "debiased-center", "map_heatmap.png", "rank_distance.png", "ranks.jsonl",
        "ranks.npz", "report.md", "results.json", "settings.json.gz", "sha256sums",
    ]  # fmt: skip
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"]["name"] == "ntrex-128" and res["dataset"]["part"] == "evaluation"
    assert res["dataset"]["documents"] == 2
    assert res["dataset"]["files"]["de"]["questions"] == 5
    assert res["n_settings"] == {"mono": 0, "cross": 6, "multi": 3}
    assert res["settings"]["en->all"]["n_candidates"] == 14  # 3 x 5 sentences, itself removed
    assert {"map", "mrr@10", "accuracy@1"} <= res["settings"]["de->es"]["metrics"].keys()
    assert res["dataset"]["question_documents"] == {
        "ntrex:1": "doc.c", "ntrex:2": "doc.c", "ntrex:3": "doc.c",
        "ntrex:16": "doc.k", "ntrex:17": "doc.k",
    }  # fmt: skip
    assert "itself removed" in res["protocol"]["settings"]
    assert res["encoding"] == {"unique_queries": 15, "unique_candidates": 15}
    assert set(res["bias"]["en"]) >= {"rank_distance", "same_lang_first", "own_lang_top10"}
    ranks = [json.loads(line) for line in (out / "ranks.jsonl").read_text().splitlines()]
    multi = next(r for r in ranks if r["setting"] == "es->all")
    assert len(multi["same_lang_first"]) == 5 and multi["rank_langs"] == ["de", "en", "es"]
    report = (out / "report.md").read_text()
    assert report.startswith("# NTREX-128 sentence retrieval (evaluation part): ntrex-128")
    assert "## Monolingual" not in report and "MRR@10" in report
    debiased = json.loads((out / "debiased-center" / "results.json").read_text())
    assert debiased["debias"]["calibration"]["source"] == "ntrex"
    assert debiased["encoding"] == res["encoding"]  # the same encoding pass


def test_eval_ntrex_refuses_evaluated_calibration(
    data: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calib = tmp_path / "calib"
    calib.mkdir()
    for lang, word in (("en", "river"), ("de", "Fluss"), ("es", "río")):
        # lines 0-11 of the files: lines 0-2 are in the evaluation part (doc.c)
        lines = [f"{word} {i} {word} number {i}." for i in range(12)]
        (calib / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = _argv(tiny_model_dir, data, tmp_path / "out", "--debias", str(calib),
                 "--debias-sentences", "10")  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "de.txt: 3 calibration sentences" in err, err
    assert "are evaluated NTREX-128 sentences" in err
    assert not (tmp_path / "out").exists()  # refused before encoding


def test_eval_ntrex_option_errors(
    data: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra, words in (
        (["--save-runs"], "--save-runs is not supported for --dataset ntrex"),
        (["--candidate-text", "sentence+context"], "--candidate-text must be sentence"),
    ):
        assert main(_argv(tiny_model_dir, data, tmp_path / "o", *extra)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
