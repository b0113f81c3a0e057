"""Does hybrid batch sampling cost anything? polyret training vs plain sentence-transformers.

In one run, on the same model, data (MLQA-R pairs), batch size and number of steps, train with

* polyret: ``polyret.training.train`` with hybrid batches (alpha 0.5), and
* plain sentence-transformers: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss``
  with the default batch sampler,

each in its own subprocess (so peak RSS is per run), alternating, ``--rounds`` times; print the
best samples/s and the peak RSS of each, and the ratio polyret / plain (target >= 0.98).

    python benchmarks/train_speed.py                      # a small random BERT (fast, CPU)
    python benchmarks/train_speed.py --model bundled:multilingual-e5-small --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _small_model(path: Path, hidden: int) -> str:
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_model import build_tiny_model

    if not (path / "modules.json").is_file():
        build_tiny_model(path, hidden=hidden, layers=4)
    return str(path)


def worker(args: argparse.Namespace) -> dict:
    import torch

    from polyret.training.config import TrainConfig
    from polyret.training.trainer import load_training_data

    torch.set_num_threads(args.threads)
    out = Path(tempfile.mkdtemp(prefix=f"train-speed-{args.worker}-"))
    config = TrainConfig(
        model=args.model,
        dataset="mlqa-r",
        data_dir=args.data_dir,
        output_dir=str(out / "run"),
        strategy="hybrid",
        alpha=0.5,
        batch_size=args.batch_size,
        max_steps=args.steps,
        dev_fraction=0.0,
        max_query_length=args.max_length,
        max_passage_length=args.max_length,
        logging_steps=args.steps,
        device="cpu",
        warmup_ratio=0.0,
        gather_across_devices=False,
    )
    data = load_training_data(config)
    if args.worker == "polyret":
        from polyret.training.trainer import train

        result = train(config, data=data)
        sps = result.samples_per_second
    else:
        from sentence_transformers import (
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        from polyret.models import load_model

        model = load_model(args.model, device="cpu")
        model.max_seq_length = args.max_length
        trainer = SentenceTransformerTrainer(
            model=model,
            args=SentenceTransformerTrainingArguments(
                output_dir=str(out / "run"),
                max_steps=args.steps,
                per_device_train_batch_size=args.batch_size,
                learning_rate=config.learning_rate,
                seed=config.seed,
                save_strategy="no",
                report_to="none",
                logging_steps=args.steps,
                use_cpu=True,
                prompts={"query": "query: ", "passage": "passage: "},
            ),
            train_dataset=data.train.to_dataset(),
            loss=MultipleNegativesRankingLoss(model),
        )
        sps = trainer.train().metrics["train_samples_per_second"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"samples_per_second": float(sps), "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="model spec (default: a random 4-layer BERT built here)"
    )
    parser.add_argument(
        "--hidden", type=int, default=256, help="hidden size of the random default model"
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--data-dir", default=os.environ.get("POLYRET_DATA", str(REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--worker", choices=["polyret", "st"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return
    if args.model is None:
        args.model = _small_model(
            Path(tempfile.gettempdir()) / f"polyret-bench-bert-{args.hidden}", args.hidden
        )
    results: dict[str, list[dict]] = {"polyret": [], "st": []}
    for r in range(args.rounds):
        order = ["polyret", "st"] if r % 2 == 0 else ["st", "polyret"]
        for name in order:
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--model",
                args.model,
                "--steps",
                str(args.steps),
                "--batch-size",
                str(args.batch_size),
                "--max-length",
                str(args.max_length),
                "--threads",
                str(args.threads),
                "--data-dir",
                args.data_dir,
            ]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                sys.exit(f"{name} run failed:\n{proc.stderr[-3000:]}")
            res = json.loads(line[-1][7:])
            results[name].append(res)
            print(
                f"round {r + 1} {name:>7}: {res['samples_per_second']:7.2f} samples/s, peak RSS {res['peak_rss_mb']:7.0f} MB ({time.perf_counter() - start:.0f} s wall)"
            )
    best = {k: max(v, key=lambda x: x["samples_per_second"]) for k, v in results.items()}
    ratio = best["polyret"]["samples_per_second"] / best["st"]["samples_per_second"]
    rss = best["polyret"]["peak_rss_mb"] / best["st"]["peak_rss_mb"]
    print(
        f"\nmodel {args.model}, batch {args.batch_size}, {args.steps} steps, max length {args.max_length}"
    )
    print(
        f"polyret hybrid / plain sentence-transformers: samples/s ratio {ratio:.3f} (target >= 0.98), peak RSS ratio {rss:.3f}"
    )


if __name__ == "__main__":
    main()
