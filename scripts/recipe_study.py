"""Choose the learning rate and similarity scale on a dev split of the training data.

Trains one strategy (default hybrid-0.5, seed 1) for a short budget at each (learning rate,
scale) of a grid on MLQA-R with whole articles held out (``dev_fraction``), scores each model on
those held-out articles (mono, cross, multilingual mAP; never on the evaluation set) and writes
one JSON line per setting plus the choice: the setting with the best mean of the three mAPs.
Finished settings are skipped, so a killed study resumes.

    python scripts/recipe_study.py --out results/recipe --steps 100
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from polyret.io import write_json
from polyret.samplers import SamplerConfig
from polyret.training.config import TrainConfig
from polyret.training.trainer import LareqaDevEvaluator, load_training_data, read_summary, train

KEYS = ("dev_mono_map", "dev_cross_map", "dev_multi_map")


def base_row(config: TrainConfig) -> dict[str, float]:
    """The untrained model on the same dev split, at the same precision: the reference."""
    from polyret.models import load_model

    dev = load_training_data(config).dev
    if dev is None:
        raise SystemExit("the study's config holds out no dev articles")
    evaluator = LareqaDevEvaluator(dev, config.eval_batch_size, precision=config.precision)
    metrics = evaluator(load_model(config.model))
    row = {k: metrics[k] for k in KEYS}
    row["mean_map"] = sum(row.values()) / len(KEYS)
    print("base:", json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/recipe"))
    parser.add_argument("--runs", type=Path, default=Path("runs/recipe"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-5, 2e-5, 5e-5])
    parser.add_argument("--scales", type=float, nargs="+", default=[20.0, 50.0, 100.0])
    parser.add_argument("--strategy", default="hybrid")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    rows = []
    config = None
    for lr, scale in itertools.product(args.learning_rates, args.scales):
        name = f"lr{lr:g}-scale{scale:g}"
        run = args.runs / name
        config = TrainConfig(
            dataset="mlqa-r",
            languages=["ar", "de", "en", "es", "hi", "vi", "zh"],
            exclude_titles=["Prime number", "Harvard University"],
            dev_fraction=0.1,
            sampler=SamplerConfig(strategy=args.strategy, alpha=args.alpha),
            batch_size=32,
            max_steps=args.steps,
            learning_rate=lr,
            scale=scale,
            warmup_ratio=0.1,
            max_query_length=48,
            max_passage_length=96,
            freeze_word_embeddings=True,
            save_steps=max(args.steps // 2, 1),
            logging_steps=10,
            seed=args.seed,
            precision=args.precision,
            output_dir=str(run),
        )
        if not (run / "final").exists():
            train(config, resume=(run / "polyret_train_config.yaml").is_file())
        dev = read_summary(run)["dev_metrics"]
        row = {"name": name, "learning_rate": lr, "scale": scale, **{k: dev[k] for k in KEYS}}
        row["mean_map"] = sum(dev[k] for k in KEYS) / len(KEYS)
        rows.append(row)
        print(json.dumps(row), flush=True)
    best = max(rows, key=lambda r: r["mean_map"])
    base = base_row(config) if config is not None else None
    write_json(
        args.out / "study.json",
        {
            "what": "dev split of MLQA-R (10% of articles held out, seed 1), never XQuAD-R",
            "strategy": args.strategy,
            "alpha": args.alpha,
            "steps": args.steps,
            "seed": args.seed,
            "precision": args.precision,
            "criterion": "mean of dev mono, cross and multilingual mAP",
            "base": base,
            "settings": rows,
            "chosen": best,
        },
    )
    print("chosen:", json.dumps(best))


if __name__ == "__main__":
    main()
