"""Two-process data-parallel training on CPU (gloo), launched with torchrun."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from sentence_transformers import SentenceTransformer

from lareqa_fixture import write_parallel_lareqa


def test_two_process_gloo_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es", "ru"), articles=12)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29533",
        "-m",
        "polyret.cli.main",
        "train",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        str(data),
        # mono at batch 4 x 2 processes: 24 steps per epoch, so 26 steps enter epoch 1.
        "--strategy",
        "mono",
        "--max-steps",
        "26",
        "--batch-size",
        "4",
        "--dev-fraction",
        "0",
        "--exclude-titles",
        "none",
        "--output-dir",
        str(out),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 26 and summary["finished"]
    sampler = json.loads((out / "polyret_sampler.json").read_text())["sampler"]
    assert sampler["world_size"] == 2 and sampler["counts"]["steps"] == 24
    plans = []
    for epoch in (0, 1):
        log = out / "batch_composition" / f"epoch-{epoch}.jsonl"
        batches = [json.loads(x) for x in log.read_text().splitlines()]
        for _, group in itertools.groupby(batches, key=lambda b: b["step"]):
            step = list(group)
            assert [b["rank"] for b in step] == [0, 1]
            assert len({(b["kind"], b["query_lang"], b["passage_lang"]) for b in step}) == 1
        plans.append([(b["query_lang"], b["rank"]) for b in batches])
    assert plans[0] != plans[1], "epoch 1 is planned anew"
    # Both processes iterated epoch 1's plan (each logs the epoch it iterates).
    for rank in (0, 1):
        assert f"epoch 1: 48 batches planned with seed 42 (process {rank})" in proc.stderr
    model = SentenceTransformer(str(out / "final"), device="cpu")
    assert model.encode_query(["Which river?"]).shape == (1, 32)


def test_two_process_gloo_run_with_mixed_and_alignment_batches_and_hard_negatives(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es", "ru"), articles=12)
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-port", "29534", "-m", "polyret.cli.main", "train",
        "--model", str(tiny_model_dir), "--dataset", str(data),
        "--strategy", "hybrid", "--alpha", "0.3", "--mixed-share", "0.4", "--align-share", "0.2",
        "--hard-negatives", "1", "--max-steps", "12", "--batch-size", "2",
        "--dev-fraction", "0", "--exclude-titles", "none", "--output-dir", str(out),
        "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 12 and summary["finished"]
    sampler = json.loads((out / "polyret_sampler.json").read_text())
    assert sampler["sampler"]["world_size"] == 2
    assert sampler["data"]["hard_negatives"] == 1
    assert sampler["data"]["alignment_pairs"] > 0
    log = out / "batch_composition" / "epoch-0.jsonl"
    batches = [json.loads(x) for x in log.read_text().splitlines()]
    kinds = set()
    for _, group in itertools.groupby(batches, key=lambda b: b["step"]):
        step = list(group)
        assert [b["rank"] for b in step] == [0, 1]
        assert len({(b["kind"], b["query_lang"], b["passage_lang"]) for b in step}) == 1
        kinds.add(step[0]["kind"])
    assert kinds == {"mono", "cross", "mixed", "align"}
    model = SentenceTransformer(str(out / "final"), device="cpu")
    assert model.encode_query(["Which river?"]).shape == (1, 32)
