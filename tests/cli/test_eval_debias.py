from __future__ import annotations

import json
from pathlib import Path

import pytest

from lareqa_fixture import write_parallel_lareqa
from polyret.cli.main import main


def test_eval_with_debias_reports_both_from_one_encoding(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=3)
    calib = tmp_path / "calib"
    calib.mkdir()
    for lang, word in (("en", "river"), ("de", "Fluss"), ("es", "río")):
        lines = [f"{word} {i} {word} sentence number {i}." for i in range(20)]
        (calib / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        str(data),
        "--out",
        str(out),
        "--debias",
        str(calib),
        "--debias-sentences",
        "10",
        "--no-progress",
    ]
    assert main(argv) == 0
    base = json.loads((out / "results.json").read_text())
    debiased = json.loads((out / "debiased-center" / "results.json").read_text())
    assert debiased["debias"]["method"] == "center"
    assert base["encoding"] == debiased["encoding"]  # the same encoding pass
    assert base["summary"] != debiased["summary"]
    comparison = (out / "comparison.md").read_text()
    assert (
        "| base |" in comparison and "| center |" in comparison and "| difference |" in comparison
    )


def test_eval_debias_with_missing_language_is_one_clear_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=2)
    calib = tmp_path / "calib"
    calib.mkdir()
    (calib / "en.txt").write_text("\n".join(f"line {i}" for i in range(20)), encoding="utf-8")
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        str(data),
        "--out",
        str(tmp_path / "o"),
        "--debias",
        str(calib),
        "--debias-sentences",
        "10",
        "--no-progress",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1  # the calibration is checked before the model is even loaded
    assert "unknown language 'de'" in err[0] and err[0].startswith("polyret eval: error:")


def test_eval_debias_queries_from_another_dataset_not_the_evaluated_one(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=3)
    other = write_parallel_lareqa(tmp_path / "other", ("en", "de"), articles=6)
    calib = tmp_path / "calib"
    calib.mkdir()
    for lang in ("en", "de"):
        (calib / f"{lang}.txt").write_text("\n".join(f"{lang} line {i}" for i in range(20)))
    argv = [
        "eval", "--model", str(tiny_model_dir), "--dataset", str(data), "--no-progress",
        "--debias", str(calib), "--debias-sentences", "10",
    ]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "o"), "--debias-queries", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the questions being evaluated" in err[0]

    out = tmp_path / "out"
    assert main([*argv, "--out", str(out), "--debias-queries", str(other)]) == 0
    debias = json.loads((out / "debiased-center" / "results.json").read_text())["debias"]
    assert debias["queries"]["languages"] == ["de", "en"]
    assert debias["queries"]["source"] == "other questions"
    assert f"queries {other}" in (out / "comparison.md").read_text()


def test_eval_debias_queries_need_debias(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--model", "m", "--dataset", "xquad-r", "--debias-queries", "q"]) == 2
    assert "--debias-queries needs --debias" in capsys.readouterr().err
