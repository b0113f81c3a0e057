"""Does hybrid batch sampling cost anything? polyret training vs plain sentence-transformers.

In one run, on the same model, data (MLQA-R pairs), batch size and number of steps, train with

* polyret: ``polyret.training.train`` with hybrid batches (alpha 0.5), and
* plain sentence-transformers: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss``
  with the default batch sampler,

each in its own subprocess (so peak RSS is per run), alternating, ``--rounds`` times; print the
best samples/s and the peak RSS of each, and the ratio polyret / plain (target >= 0.98).

With ``--precisions`` (default model: the bundled one), a second mode: the step time of
``polyret train`` at each precision against the bare step on the same batches (the limit):
the batches of polyret's hybrid plan, tokenized beforehand, then forward, the MNRL loss,
backward, gradient clipping and a fused AdamW step, under ``torch.autocast`` for bf16. Each
(precision, polyret | bare) runs in its own subprocess; the first ``--warmup`` steps are left
out and the median of the others is kept. It prints the step times, polyret / bare, bf16 /
fp32 and the per-step losses of the bare runs (the same batches, so bf16 should track fp32).

With ``--padding`` (bundled model), a third mode: the step of ``polyret train`` with each column
embedded in length-sorted chunks without their padding (``length_chunk_size``, the default on
CPU) against today's padded step (``length_chunk_size 0``), on protocol A's batches (MLQA-R,
hybrid-0.5, queries <= 48 and passages <= 96 tokens), at each precision, in one run. It prints the
step times and speed-ups, each step's FLOP/s on its real (unpadded) tokens as a share of this
CPU's GEMM peak measured in the same run (``roofline.py``), and the loss check: with dropout off,
the losses of both paths on the same batches (fp32: equal within 1e-5; bf16: within the
bf16-vs-fp32 difference of the padded path).

    python benchmarks/train_speed.py                      # a small random BERT (fast, CPU)
    python benchmarks/train_speed.py --model bundled:multilingual-e5-small --steps 10
    python benchmarks/train_speed.py --precisions fp32 bf16 --steps 4     # bundled model
    python benchmarks/train_speed.py --padding --precisions fp32 bf16 --steps 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _small_model(path: Path, hidden: int) -> str:
    from polyret.testing import build_tiny_model

    if not (path / "modules.json").is_file():
        build_tiny_model(path, hidden=hidden, layers=4)
    return str(path)


def _train_config(args: argparse.Namespace, out: Path, **options: object) -> Any:
    """The benchmark's hybrid MLQA-R run on CPU, with ``options`` on top."""
    from polyret.samplers import SamplerConfig
    from polyret.training.config import TrainConfig

    if args.protocol_a:  # protocol A's training section, as its runs train (seed 1)
        import yaml

        experiment = yaml.safe_load((REPO / "experiments" / "protocol_a.yaml").read_text())
        return TrainConfig.from_dict(
            {
                **experiment["train"],
                "model": args.model,
                "data_dir": args.data_dir,
                "output_dir": str(out / "run"),
                "sampler": {"strategy": "hybrid", "alpha": 0.5},
                "max_steps": args.steps,
                "seed": 1,
                "device": "cpu",
                "save_steps": 0,
                "gather_across_devices": False,
                **options,
            },
            source="experiments/protocol_a.yaml",
        )
    return TrainConfig(
        model=args.model,
        dataset="mlqa-r",
        data_dir=args.data_dir,
        output_dir=str(out / "run"),
        sampler=SamplerConfig(strategy="hybrid", alpha=0.5),
        batch_size=args.batch_size,
        max_steps=args.steps,
        dev_fraction=0.0,
        max_query_length=args.max_length,
        max_passage_length=args.max_length,
        device="cpu",
        warmup_ratio=0.0,
        gather_across_devices=False,
        **options,  # type: ignore[arg-type]
    )


def _prepare(args: argparse.Namespace, prefix: str, **options: object) -> tuple[Any, Any]:
    """A worker's set-up: torch threads, a fresh output folder, the config and its data."""
    import torch

    from polyret.training.data import load_training_data

    torch.set_num_threads(args.threads)
    config = _train_config(args, Path(tempfile.mkdtemp(prefix=prefix)), **options)
    return config, load_training_data(config)


def worker(args: argparse.Namespace) -> dict:
    config, data = _prepare(
        args,
        f"train-speed-{args.worker}-",
        logging_steps=args.steps,
        precision="fp32",  # as the plain sentence-transformers run
    )
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
                output_dir=config.output_dir,  # out / "run", as the polyret worker
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


def _step_timer():
    """A TrainerCallback that records the wall seconds of every optimizer step."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.seconds.append(time.perf_counter() - self._start)

    return StepTimer()


def precision_worker(args: argparse.Namespace) -> dict:
    """One (precision, polyret | bare) run: step seconds, losses, peak RSS."""
    config, data = _prepare(
        args,
        f"train-speed-{args.worker}-{args.precision}-",
        freeze_word_embeddings=args.freeze_word_embeddings,
        logging_steps=1,
        precision=args.precision,
        length_chunk_size=args.chunk,
    )
    if args.worker == "losscheck":
        return loss_check(config, data, args)
    if args.worker == "polyret":
        from polyret.training.trainer import train

        timer = _step_timer()
        result = train(config, data=data, callbacks=[timer])
        seconds = timer.seconds
        losses = [h["loss"] for h in result.log_history if "loss" in h]
    else:
        seconds, losses = bare_steps(config, data, args)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "losses": losses,
        "peak_rss_mb": peak_mb,
        "tokens": step_tokens(config, data, args.steps),
    }


def _planned_batches(config, data, steps: int, model) -> list[list[dict]]:
    """The first ``steps`` batches of the run's plan, collated as the trainer collates them,
    split into their query and passage columns."""
    from polyret.samplers import BatchPlanner
    from polyret.training.data import column_prompts, make_collator

    planner = BatchPlanner(
        data.train.metadata(), config.run_sampler(), config.batch_size, seed=config.seed
    )
    collate = make_collator(model, config, column_prompts(model))
    dataset = data.train.to_dataset()
    out = []
    for info in planner.plan(0)[:steps]:
        batch = collate([dataset[i] for i in info.indices])
        out.append(
            [
                {k[len(c) + 1 :]: v for k, v in batch.items() if k.startswith(c + "_")}
                for c in ("query", "passage")
            ]
        )
    return out


def step_tokens(config, data, steps: int) -> list[dict[str, int]]:
    """Per planned step: the real tokens of every text, and the tokens of the padded batch."""
    from polyret.models import load_model

    model = load_model(config.model, device="cpu")
    out = []
    for columns in _planned_batches(config, data, steps, model):
        masks = [c["attention_mask"] for c in columns]
        out.append(
            {
                "lengths": [int(n) for m in masks for n in m.sum(dim=1)],
                "padded": sum(m.numel() for m in masks),
            }
        )
    return out


def loss_check(config, data, args: argparse.Namespace) -> dict:
    """Losses of the padded and the unpadded path on the same batches, dropout off."""
    import contextlib

    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from polyret.models import load_model
    from polyret.training.loss import CPU_CHUNK_SIZE, PolyretMNRL

    model = load_model(config.model, device="cpu")
    model.eval()
    batches = _planned_batches(config, data, args.steps, model)
    losses = {
        "padded": MultipleNegativesRankingLoss(model, scale=config.scale),
        # the forward only differs: both compute the loss inside autocast here
        "unpadded": PolyretMNRL(
            model, args.chunk or CPU_CHUNK_SIZE, fp32_loss=False, scale=config.scale
        ),
    }
    out: dict[str, list[float]] = {}
    for precision in ("fp32", "bf16"):
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if precision == "bf16"
            else contextlib.nullcontext()
        )
        for name, loss in losses.items():
            with torch.no_grad(), autocast:
                out[f"{precision} {name}"] = [loss(columns, None).item() for columns in batches]
    return {"losses": out}


def bare_steps(config, data, args) -> tuple[list[float], list[float]]:
    """Forward, loss, backward, clipping and AdamW on polyret's first batches, nothing else."""
    import contextlib

    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from polyret.models import load_model
    from polyret.samplers import BatchPlanner

    # The trainer's sampler configuration: the same first batches as a polyret run.
    sampler = config.run_sampler()
    planner = BatchPlanner(data.train.metadata(), sampler, config.batch_size, seed=config.seed)
    torch.manual_seed(config.seed)
    model = load_model(config.model, device="cpu")
    model.max_seq_length = args.max_length
    if config.freeze_word_embeddings:
        model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    prompts = model.prompts
    pairs = data.train.pairs
    batches = []  # tokenized before the clock starts
    for info in planner.plan(0)[: args.steps]:
        rows = [pairs[i] for i in info.indices]
        batches.append(
            [
                model.preprocess([prompts["query"] + p.query for p in rows]),
                model.preprocess([prompts["document"] + p.passage for p in rows]),
            ]
        )
    loss_fn = MultipleNegativesRankingLoss(model, scale=config.scale)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    try:
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    model.train()
    seconds, losses = [], []
    for features in batches:
        start = time.perf_counter()
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if args.precision == "bf16"
            else contextlib.nullcontext()
        )
        with autocast:
            loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return seconds, losses


def precision_mode(args: argparse.Namespace) -> None:
    import statistics

    from polyret.precision import cpu_has_native_bf16, resolve_precision

    precisions = list(dict.fromkeys(["fp32", *args.precisions]))
    print(
        f"model {args.model}, batch {args.batch_size}, {args.steps} steps ({args.warmup} warm-up "
        f"left out), max length {args.max_length}, {args.threads} threads, frozen word "
        f"embeddings: {args.freeze_word_embeddings}, native CPU bf16: {cpu_has_native_bf16()}",
        flush=True,
    )
    results: dict[tuple[str, str], dict] = {}
    for precision in precisions:
        for worker in ("polyret", "bare"):
            cmd = [
                sys.executable, __file__, "--worker", worker, "--precisions", precision,
                "--model", args.model, "--steps", str(args.steps), "--batch-size",
                str(args.batch_size), "--max-length", str(args.max_length), "--threads",
                str(args.threads), "--data-dir", args.data_dir,
                *(["--freeze-word-embeddings"] if args.freeze_word_embeddings else []),
            ]  # fmt: skip
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                sys.exit(f"{worker} {precision} run failed:\n{proc.stderr[-3000:]}")
            res = json.loads(line[-1][7:])
            timed = res["seconds"][args.warmup :] or res["seconds"]
            res["step"] = statistics.median(timed)
            results[(precision, worker)] = res
            print(
                f"{precision:>5} ({resolve_precision(precision, 'cpu')}) {worker:>7}: "
                f"{res['step']:6.2f} s/step (median of {len(timed)}), peak RSS "
                f"{res['peak_rss_mb']:6.0f} MB, losses "
                + " ".join(f"{x:.3f}" for x in res["losses"])
                + f" ({time.perf_counter() - start:.0f} s wall)",
                flush=True,
            )
    print("\npolyret / bare (overhead over the limit; 1.00 = none):")
    for precision in precisions:
        ratio = results[(precision, "polyret")]["step"] / results[(precision, "bare")]["step"]
        print(f"{precision:>5}: {ratio:5.2f}x")
    for precision in precisions[1:]:
        for worker in ("polyret", "bare"):
            speed = results[("fp32", worker)]["step"] / results[(precision, worker)]["step"]
            print(f"{precision} speed-up over fp32, {worker}: {speed:5.2f}x")
        fp32, other = results[("fp32", "bare")]["losses"], results[(precision, "bare")]["losses"]
        diff = max(abs(a - b) for a, b in zip(fp32, other, strict=True))
        print(f"{precision} vs fp32, bare losses on the same batches: largest |diff| {diff:.4f}")


def _run_worker(args: argparse.Namespace, worker: str, precision: str, chunk: int) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", worker, "--precisions", precision,
        "--model", args.model, "--steps", str(args.steps), "--batch-size",
        str(args.batch_size), "--max-length", str(args.max_length), "--threads",
        str(args.threads), "--data-dir", args.data_dir, "--chunk", str(chunk),
        *(["--freeze-word-embeddings"] if args.freeze_word_embeddings else []),
        *(["--protocol-a"] if args.padding else []),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        sys.exit(f"{worker} {precision} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[-1][7:])


def padding_mode(args: argparse.Namespace) -> None:
    """Unpadded chunks vs the padded step, per precision, read against the GEMM peak."""
    import statistics

    from polyret.models import load_model
    from polyret.precision import cpu_has_native_bf16
    from roofline import Shapes, gemm_throughput, peak, train_flops

    precisions = list(dict.fromkeys(args.precisions or ["fp32", "bf16"]))
    chunks = list(dict.fromkeys([0, *args.chunk_sizes]))
    shapes = Shapes.of(load_model(args.model, device="cpu"))
    print(
        f"model {args.model}, protocol A batches (MLQA-R, hybrid-0.5, seed 1), batch "
        f"{args.batch_size}, queries <= 48 and passages <= 96 tokens, {args.steps} steps "
        f"({args.warmup} warm-up left out), {args.threads} threads, frozen word embeddings: "
        f"{args.freeze_word_embeddings}, native CPU bf16: {cpu_has_native_bf16()}",
        flush=True,
    )
    import torch

    torch.set_num_threads(args.threads)
    peaks = {p: peak(gemm_throughput(shapes, p)) for p in precisions}
    for p, gflops in peaks.items():
        print(f"{p:>5} GEMM peak at the model's shapes: {gflops:6.1f} GFLOP/s", flush=True)
    step: dict[tuple[str, int], float] = {}
    for round_ in range(args.rounds):
        for precision in precisions:
            # alternate the order, so that a drift of the machine does not favour one path
            for chunk in chunks if round_ % 2 == 0 else chunks[::-1]:
                start = time.perf_counter()
                res = _run_worker(args, "polyret", precision, chunk)
                timed = list(zip(res["seconds"], res["tokens"], strict=False))[args.warmup :]
                median = statistics.median(s for s, _ in timed)
                step[(precision, chunk)] = min(median, step.get((precision, chunk), math.inf))
                achieved = statistics.median(
                    train_flops(shapes, t["lengths"]) / s / 1e9 for s, t in timed
                )
                real = sum(sum(t["lengths"]) for _, t in timed)
                padded = sum(t["padded"] for _, t in timed)
                label = "padded" if chunk == 0 else f"chunks of {chunk}"
                print(
                    f"round {round_ + 1} {precision:>5} {label:>14}: {median:5.2f} s/step (median "
                    f"of {len(timed)}), {achieved:6.1f} GFLOP/s on real tokens = "
                    f"{achieved / peaks[precision]:4.0%} of the GEMM peak (the padded batches "
                    f"hold {1 - real / padded:.0%} padding); peak RSS {res['peak_rss_mb']:5.0f} "
                    f"MB ({time.perf_counter() - start:.0f} s wall)",
                    flush=True,
                )
    print(f"\nspeed-up over the padded step (same run, best median of {args.rounds} rounds):")
    for precision in precisions:
        for chunk in chunks[1:]:
            ratio = step[(precision, 0)] / step[(precision, chunk)]
            print(f"{precision:>5} chunks of {chunk}: {ratio:5.2f}x")
    check = _run_worker(args, "losscheck", "fp32", chunks[-1] if len(chunks) > 1 else 8)
    losses = check["losses"]

    def largest(a: str, b: str) -> float:
        return max(abs(x - y) for x, y in zip(losses[a], losses[b], strict=True))

    print(f"\nloss check, dropout off, the first {args.steps} batches:")
    print(f" fp32 unpadded vs padded: largest |diff| {largest('fp32 unpadded', 'fp32 padded'):.2e}")
    print(f" bf16 unpadded vs padded: largest |diff| {largest('bf16 unpadded', 'bf16 padded'):.4f}")
    print(f" bf16 vs fp32 (padded), the bf16 noise: {largest('bf16 padded', 'fp32 padded'):.4f}")


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
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=None,
        metavar="P",
        help="precision mode: polyret train vs the bare step at these precisions (fp32 always)",
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="precision mode: first steps left out of the median"
    )
    parser.add_argument(
        "--freeze-word-embeddings",
        action="store_true",
        help="precision mode: freeze the word embeddings (as the CPU experiment configs do)",
    )
    parser.add_argument(
        "--padding",
        action="store_true",
        help="padding mode: unpadded length-sorted chunks vs the padded step (bundled model)",
    )
    parser.add_argument(
        "--chunk-sizes",
        nargs="+",
        type=int,
        default=[8],
        metavar="N",
        help="padding mode: texts per chunk to time beside the padded step (default: 8)",
    )
    parser.add_argument("--chunk", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--protocol-a", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--worker", choices=["polyret", "st", "bare", "losscheck"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.padding:
        args.model = args.model or "bundled:multilingual-e5-small"
        args.freeze_word_embeddings = True  # as protocol A
        padding_mode(args)
        return
    if args.precisions and args.worker:
        args.precision = args.precisions[0]
        print("RESULT " + json.dumps(precision_worker(args)))
        return
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return
    if args.precisions:
        args.model = args.model or "bundled:multilingual-e5-small"
        precision_mode(args)
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
