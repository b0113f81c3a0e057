"""`polyret eval --dataset beir:PATH / miracl` goes through the corpus evaluator with its options."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_eval_cli_on_miracl_pool(
    miracl_data: tuple[Path, dict], tiny_model_dir: Path, tmp_path: Path
) -> None:
    root, _ = miracl_data
    out = tmp_path / "out"
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        "miracl",
        "--languages",
        "sw",
        "yo",
        "--data-dir",
        str(root),
        "--out",
        str(out),
        "--multilingual-pool",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "pool" in (out / "report.md").read_text().lower()
