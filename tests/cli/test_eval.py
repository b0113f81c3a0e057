from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
import yaml

from evaluation.lareqa_fixtures import write_hand_dataset, write_random_dataset
from polyret.cli.main import main
from polyret.data.trec import read_qrels, read_run
from polyret.evaluation.store import is_saved, load_result
from polyret.io import sha256_file


def test_eval_writes_everything(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_random_dataset(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["eval", "--model", str(tiny_model_dir), "--dataset", str(data), "--out", str(out),
            "--seen-languages", "aa,bb", "--save-runs", "--run-depth", "0", "--no-progress",
            "--batch-size", "16"]  # fmt: skip
    assert main(argv) == 0
    console = capsys.readouterr().out
    assert "monolingual X→X" in console and "language bias" in console
    assert sorted(p.name for p in out.iterdir()) == [
        "map_heatmap.png", "rank_distance.png", "ranks.jsonl", "ranks.npz", "report.md",
        "results.json", "settings.json.gz", "sha256sums", "trec",
    ]  # fmt: skip
    # the one saved format: the experiment runner's cache and `polyret compare` read it back
    assert is_saved(out) and load_result(out).summary()["mono_map"] == pytest.approx(
        json.loads((out / "results.json").read_text())["summary"]["mono_map"]
    )
    res = json.loads((out / "results.json").read_text())
    assert res["command"].startswith("polyret eval --model")
    assert res["model"]["path"] == str(tiny_model_dir)
    env = res["environment"]  # what near ties of a re-evaluation depend on
    assert env["torch_threads"] >= 1 and {"torch", "transformers"} <= env["versions"].keys()
    assert res["dataset"]["files"]["aa"]["sha256"] == sha256_file(data / "aa.json")
    assert res["candidate_text"] == "sentence" and "docno descending" in res["tie_rule"]
    assert res["n_settings"] == {"mono": 3, "cross": 6, "multi": 3}
    assert {"encode", "score", "runs", "total"} <= res["timings"].keys()
    assert res["runs"]["depth"] == "full pool"
    assert "seen_mono_map" in res["summary"] and res["bias"]["cc"]["n_queries"] > 0
    ranks = [json.loads(line) for line in (out / "ranks.jsonl").read_text().splitlines()]
    assert len(ranks) == 12
    # any number can be checked with trec_eval on the written runs
    for setting in ("aa->bb", "cc->all"):
        stem = setting.replace("->", "-")
        qrels = read_qrels(out / "trec" / "qrels" / f"{stem}.qrels")
        run = read_run(out / "trec" / "runs" / f"{stem}.run")
        ref = pytrec_eval.RelevanceEvaluator(qrels, {"map", "ndcg_cut_10"}).evaluate(run)
        metrics = res["settings"][setting]["metrics"]
        assert metrics["map"] == pytest.approx(np.mean([v["map"] for v in ref.values()]), abs=1e-9)
        assert metrics["ndcg@10"] == pytest.approx(
            np.mean([v["ndcg_cut_10"] for v in ref.values()]), abs=1e-9
        )
    report = (out / "report.md").read_text()
    assert "## mAP by query language" in report and "(unseen)" in report


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_eval_records_the_precision(tmp_path: Path, tiny_model_dir: Path) -> None:
    from polyret.precision import resolve_precision

    data = write_random_dataset(tmp_path / "data")
    base = ["eval", "--model", str(tiny_model_dir), "--dataset", str(data), "--no-progress",
            "--device", "cpu"]  # fmt: skip
    summaries = {}
    for precision in ("fp32", "bf16", "auto"):
        out = tmp_path / precision
        assert main([*base, "--out", str(out), "--precision", precision]) == 0
        res = json.loads((out / "results.json").read_text())
        expected = resolve_precision(precision, "cpu")
        assert res["options"]["precision"] == expected
        assert f"**precision**: {expected}" in (out / "report.md").read_text()
        summaries[precision] = res["summary"]
    for key, value in summaries["fp32"].items():  # bf16 keeps the tiny model's metrics
        assert summaries["bf16"][key] == pytest.approx(value, abs=0.05), key


def test_bad_data_is_one_line(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_hand_dataset(tmp_path / "data")
    obj = json.loads((data / "de.json").read_text())
    obj["data"][0]["paragraphs"][1]["qas"][0]["answers"][0]["answer_start"] = 500
    (data / "de.json").write_text(json.dumps(obj))
    base = ["eval", "--model", str(tiny_model_dir), "--dataset", str(data)]
    _one_line_error(
        capsys, base, "de.json", "question id q2", "answer_start", "outside every sentence"
    )
    _one_line_error(capsys, [*base, "--languages", "en", "fr"], "fr", "available: de, en")
    _one_line_error(capsys, [*base, "--save-runs"], "--save-runs needs --output-dir")
    _one_line_error(capsys, [*base[:3], "--dataset", str(tmp_path / "none")], "not found")
    with pytest.raises(SystemExit):
        main([*base, "--precision", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err


def test_eval_defaults_to_the_bundled_model(
    tmp_path: Path, bundled_stand_in: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_random_dataset(tmp_path / "data")
    out = tmp_path / "out"
    assert main(["eval", "--dataset", str(data), "--out", str(out), "--no-progress"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["model"]["spec"] == "bundled:multilingual-e5-small"
    assert res["model"]["path"] == str(bundled_stand_in)


def test_a_bad_model_is_reported_before_a_missing_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ["--dataset", str(tmp_path / "no-data")]
    _one_line_error(
        capsys, ["eval", "--model", str(tmp_path / "no-model"), *missing], "no model directory"
    )


def test_corpus_datasets_go_to_corpus_evaluator(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the BEIR folder does not exist: the corpus evaluator reports it, as one line
    argv = ["eval", "--model", str(tiny_model_dir), "--dataset", f"beir:{tmp_path / 'nope'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err, err
    assert "dataset folder not found" not in err  # not routed to the LAReQA loader


@pytest.mark.integration
def test_eval_registry_name(shared_data: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    argv = ["eval", "--model", str(tiny_model_dir), "--dataset", "mlqa-r", "--data-dir", str(shared_data),
            "--languages", "de", "es", "--out", str(tmp_path / "o"), "--no-progress", "--batch-size", "256"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["dataset"]["folder"] == str(shared_data / "lareqa" / "mlqa-r")
    assert res["settings"]["de->es"]["n_queries"] == res["settings"]["es->de"]["n_queries"] == 196
    # de->all and es->all: only the 196 shared ids have two answers; the bias measures use those
    assert res["bias_queries"] == {"used": 392, "left_out": 620}
    assert (res["bias"]["de"]["n_queries"], res["bias"]["de"]["n_left_out"]) == (196, 316)


def test_unknown_dataset_lists_every_dataset_eval_takes(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--model", str(tiny_model_dir), "--dataset", "xquad"]
    _one_line_error(
        capsys, argv, "unknown dataset 'xquad'", "xquad-r", "mlqa-r", "ntrex", "miracl", "beir:PATH"
    )


def test_eval_options_come_from_a_config_file_and_flags(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``polyret eval --config FILE``: the YAML's options, flags over them; ``--print-config``
    prints what ``--config`` loads back; ``--out`` is ``--output-dir``."""
    data = write_random_dataset(tmp_path / "data")
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"dataset: {data}\nmodel: {tiny_model_dir}\nbatch_size: 4\nlanguages: [aa, bb]\n"
        "centering:\n  debias_sentences: 7\n",
        encoding="utf-8",
    )
    assert main(["eval", "--config", str(config), "--batch-size", "8", "--print-config"]) == 0
    printed = capsys.readouterr().out
    resolved = yaml.safe_load(printed)
    assert resolved["batch_size"] == 8 and resolved["languages"] == ["aa", "bb"]
    assert resolved["centering"]["debias_sentences"] == 7
    again = tmp_path / "again.yaml"
    again.write_text(printed, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["eval", "--config", str(again), "--out", str(out), "--no-progress"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["options"]["batch_size"] == 8 and res["dataset"]["languages"] == ["aa", "bb"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"dataset: {data}\nbatch_sise: 4\n", encoding="utf-8")
    _one_line_error(capsys, ["eval", "--config", str(bad)], "bad.yaml", "batch_sise")
