"""`polyret eval --dataset beir:PATH / miracl` goes through the corpus evaluator with its options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.cli.main import main


def test_eval_cli_on_beir_with_corpus_options(
    beir_data: tuple[Path, dict], tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder, _ = beir_data
    out = tmp_path / "out"
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        f"beir:{folder}",
        "--out",
        str(out),
        "--k",
        "10",
        "--dtype",
        "float32",
        "--shard-size",
        "7",
        "--save-runs",
        "--no-progress",
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    text = json.dumps(results)
    assert "ndcg@10" in text and "recall@100" in text
    assert (out / "report.md").is_file()
    shards = list(out.rglob("*.npy"))
    assert len(shards) == 5  # 30 documents in shards of 7


def miracl(model: Path, root: Path, *flags: str) -> list[str]:
    """``polyret eval`` of ``model`` on the MIRACL fixture under ``root``, with ``flags``."""
    return ["eval", "--model", str(model), "--dataset", "miracl", "--data-dir", str(root),
            "--no-progress", *flags]  # fmt: skip


def test_eval_cli_on_miracl_pool(
    miracl_data: tuple[Path, dict], tiny_model_dir: Path, tmp_path: Path
) -> None:
    root, _ = miracl_data
    out = tmp_path / "out"
    argv = miracl(tiny_model_dir, root, "--languages", "sw", "yo", "--out", str(out))
    assert main([*argv, "--multilingual-pool"]) == 0
    assert "pool" in (out / "report.md").read_text().lower()


def write_calibration(folder: Path, extra: dict[str, str] | None = None) -> Path:
    """sw.txt and yo.txt of 12 calibration sentences (``extra[lang]`` in place of the first)."""
    folder.mkdir()
    for lang in ("sw", "yo"):
        lines = [f"{lang} calibration sentence {i} {lang * i}" for i in range(12)]
        if extra and lang in extra:
            lines[0] = extra[lang]
        (folder / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_eval_cli_centers_a_corpus_beside_the_plain_search(
    miracl_data: tuple[Path, dict], tiny_model_dir: Path, tmp_path: Path
) -> None:
    """--debias on MIRACL: plain and centered results from one encoding, and the comparison."""
    root, _ = miracl_data
    calib = write_calibration(tmp_path / "calib")
    out = tmp_path / "out"
    plain = miracl(tiny_model_dir, root, "--out", str(out), "--multilingual-pool", "--save-runs")
    assert main([*plain, "--debias", str(calib), "--debias-sentences", "10"]) == 0
    base = json.loads((out / "results.json").read_text())
    centered = json.loads((out / "debiased-center" / "results.json").read_text())
    assert centered["debias"]["method"] == "center" and "debias" not in base
    assert centered["debias"]["calibration"]["languages"] == ["sw", "yo"]
    # one encoding: the centered search read the same shards
    for lang in ("sw", "yo"):
        assert centered["languages"][lang]["encode"] == base["languages"][lang]["encode"]
    assert centered["pool"]["average"] != base["pool"]["average"]
    assert (out / "debiased-center" / "runs" / "pool.dev.trec").is_file()
    assert (out / "debiased-center" / "report.md").is_file()
    rows = {
        line.split("|")[1].strip(): line.strip("|").split("|")[1:]
        for line in (out / "comparison.md").read_text().splitlines()
        if line.startswith("| ")
    }
    header = [k.strip() for k in rows[""]]
    assert header[:4] == ["ndcg@10", "recall@100", "mrr@10", "pool_ndcg@10"]
    assert "pool_own_share@10" in header
    column = header.index("pool_ndcg@10")
    difference = centered["pool"]["average"]["ndcg@10"] - base["pool"]["average"]["ndcg@10"]
    assert float(rows["difference"][column]) == pytest.approx(difference, abs=1e-4)

    # an evaluation without centering into the same folder leaves no centered results behind
    assert main([*plain, "--overwrite"]) == 0
    assert not (out / "debiased-center").exists() and not (out / "comparison.md").exists()
    assert (out / "results.json").is_file() and (out / "runs" / "pool.dev.trec").is_file()


def test_eval_cli_refuses_centering_on_evaluated_queries_or_an_unnamed_corpus(
    miracl_data: tuple[Path, dict],
    beir_data: tuple[Path, dict],
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, written = miracl_data
    calib = write_calibration(tmp_path / "calib")
    evaluated = next(iter(written["yo"]["queries"].values()))
    leaky = write_calibration(tmp_path / "leaky", {"yo": evaluated})
    argv = miracl(tiny_model_dir, root, "--debias-sentences", "12", "--debias")
    assert main([*argv, str(leaky)]) == 2
    err = capsys.readouterr().err
    assert "holds 1 of the queries evaluated on miracl" in err and evaluated in err
    assert main([*argv, str(calib), "--debias-queries", str(leaky)]) == 2
    assert "queries evaluated on miracl" in capsys.readouterr().err

    folder, _ = beir_data
    beir = ["eval", "--model", str(tiny_model_dir), "--dataset", f"beir:{folder}", "--debias"]
    assert main([*beir, str(calib), "--no-progress"]) == 2
    assert "centering needs each corpus's language" in capsys.readouterr().err
