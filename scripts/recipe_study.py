"""Choose the learning rate and similarity scale on a dev split of the training data.

Takes an experiment's training set-up (``--config``: base model, ``train:`` section, precision),
holds out whole articles of the training data (``--dev-fraction``), trains one strategy
(default hybrid-0.5, seed 1) for a short budget at each (learning rate, scale) of a grid, scores
each model on those held-out articles (mono, cross, multilingual mAP; never on the experiment's
evaluation set) and writes one row per setting plus the choice: the setting with the best mean
of the three mAPs. Finished settings are skipped, so a killed study resumes.

    python scripts/recipe_study.py --config experiments/protocol_b.yaml --steps 100

With ``--designs FILE`` it screens batch designs instead (issue: beat the anchors on the
multilingual pool): FILE lists strategies as an experiment's ``strategies:`` does (strategy,
alpha, mixed_share, their own ``train:`` options), each trained with the experiment's recipe on
the same dev split; the two best by dev multilingual mAP whose dev mono and cross mAP are not
below the reference's (``--reference``, default hybrid-0.5) are chosen.

    python scripts/recipe_study.py --config experiments/protocol_a.yaml --steps 300 \
        --designs experiments/designs.yaml --out results/designs/screen
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
from pathlib import Path

from polyret.evaluation.dev import LareqaDevEvaluator
from polyret.experiment.config import ExperimentConfig, StrategySpec
from polyret.io import write_json
from polyret.training.config import TrainConfig
from polyret.training.data import load_training_data
from polyret.training.trainer import check_same_run, read_summary, train

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


def setting_config(
    experiment: ExperimentConfig,
    spec: StrategySpec,
    args: argparse.Namespace,
    lr: float | None,
    scale: float | None,
    run: Path,
) -> TrainConfig:
    """The experiment's run config for ``spec`` with the study's dev split, budget and setting
    (``lr`` / ``scale`` None: the experiment's). A design's own ``max_steps`` (a larger batch at
    the same number of pairs) scales the study's budget by the same factor."""
    config = experiment.train_config(spec, args.seed)
    steps = args.steps
    if "max_steps" in spec.train:
        steps = max(1, round(args.steps * spec.train["max_steps"] / experiment.train["max_steps"]))
    return dataclasses.replace(  # replace() validates the changed config again
        config,
        dev_fraction=args.dev_fraction,
        max_steps=steps,
        save_steps=max(steps // 2, 1),
        learning_rate=config.learning_rate if lr is None else lr,
        scale=config.scale if scale is None else scale,
        output_dir=str(run),
        **({"precision": args.precision} if args.precision is not None else {}),
    )


def run_setting(config: TrainConfig, run: Path) -> dict[str, float]:
    """Train ``config`` into ``run`` (or reuse the finished run of the same config) and return
    its dev mono, cross and multilingual mAP and their mean."""
    if (run / "final").exists():
        check_same_run(run, config)  # a finished run of another set-up is not reused
    else:
        train(config, resume=(run / "polyret_train_config.yaml").is_file())
    summary = read_summary(run)
    dev = summary["dev_metrics"]
    row = {k: dev[k] for k in KEYS}
    row["mean_map"] = sum(dev[k] for k in KEYS) / len(KEYS)
    row["precision"] = summary.get("precision", config.precision)  # as the run trained
    return row


def screen_designs(args: argparse.Namespace, experiment: ExperimentConfig) -> None:
    """Train every design of ``args.designs`` on the dev split and choose the two best."""
    from polyret.configfile import read_yaml_mapping

    listed = read_yaml_mapping(args.designs).get("strategies")
    specs = ExperimentConfig.from_dict(
        {"name": "designs", "output_dir": "-", "train": experiment.train, "strategies": listed}
    ).strategies
    out = args.out or Path("results/designs/screen")
    runs = args.runs or Path("runs/designs-screen")
    rows, config = [], None
    for spec in specs:
        config = setting_config(experiment, spec, args, None, None, runs / spec.name)
        row = {"name": spec.name, "strategy": spec.strategy, "alpha": spec.alpha,
               "mixed_share": spec.mixed_share, "train": spec.train,
               "steps": config.max_steps, "batch_size": config.batch_size,
               **run_setting(config, runs / spec.name)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    if config is None:
        raise SystemExit(f"{args.designs}: no strategies")
    reference = next((r for r in rows if r["name"] == args.reference), None)
    if reference is None:
        raise SystemExit(f"--reference {args.reference!r} is not among the designs")
    # The designs: neither the reference nor a plain baseline (mono or cross, no options).
    baseline = {"mono", "cross"}
    eligible = [
        r
        for r in rows
        if r["name"] != args.reference
        and not (r["strategy"] in baseline and not r["train"])
        and r["dev_mono_map"] >= reference["dev_mono_map"]
        and r["dev_cross_map"] >= reference["dev_cross_map"]
    ]
    chosen = sorted(eligible, key=lambda r: -r["dev_multi_map"])[:2]
    write_json(
        out / "screen.json",
        {
            "what": (
                f"dev split of {config.dataset} ({args.dev_fraction:.0%} of articles held out, "
                f"seed {args.seed}), never {experiment.eval.dataset}"
            ),
            "config": str(args.config),
            "designs": str(args.designs),
            "languages": config.languages,
            "learning_rate": config.learning_rate,
            "scale": config.scale,
            "steps": args.steps,
            "seed": args.seed,
            "criterion": (
                "dev multilingual mAP, among the designs (not the reference, not a plain "
                f"baseline) whose dev mono and cross mAP are not below {args.reference}'s"
            ),
            "base": base_row(config),
            "designs_screened": rows,
            "chosen": [r["name"] for r in chosen],
        },
    )
    print("chosen:", [r["name"] for r in chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("experiments/protocol_a.yaml"))
    parser.add_argument("--out", type=Path, default=None, help="default: results/recipe/<name>")
    parser.add_argument("--runs", type=Path, default=None, help="default: runs/recipe/<name>")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--dev-fraction", type=float, default=0.1)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-5, 2e-5, 5e-5])
    parser.add_argument("--scales", type=float, nargs="+", default=[20.0, 50.0, 100.0])
    parser.add_argument("--strategy", default="hybrid")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--precision", default=None, help="default: the experiment's")
    parser.add_argument(
        "--designs", type=Path, default=None, help="screen these strategies (YAML) instead"
    )
    parser.add_argument("--reference", default="hybrid-0.5", help="--designs: the reference")
    args = parser.parse_args()
    if not 0.0 < args.dev_fraction < 1.0:
        raise SystemExit(f"--dev-fraction must lie in (0, 1), got {args.dev_fraction}")
    experiment = ExperimentConfig.from_yaml(args.config)
    if args.designs is not None:
        screen_designs(args, experiment)
        return
    out = args.out or Path("results/recipe") / experiment.name
    runs = args.runs or Path("runs/recipe") / experiment.name
    spec = StrategySpec(name=args.strategy, strategy=args.strategy, alpha=args.alpha)
    rows = []
    config = None
    for lr, scale in itertools.product(args.learning_rates, args.scales):
        name = f"lr{lr:g}-scale{scale:g}"
        run = runs / name
        config = setting_config(experiment, spec, args, lr, scale, run)
        result = run_setting(config, run)
        summary = {"precision": result.pop("precision")}
        row = {"name": name, "learning_rate": lr, "scale": scale, **result}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if config is None:
        raise SystemExit("empty grid")
    best = max(rows, key=lambda r: r["mean_map"])
    base = base_row(config)
    write_json(
        out / "study.json",
        {
            "what": (
                f"dev split of {config.dataset} ({args.dev_fraction:.0%} of articles held out, "
                f"seed {args.seed}), never {experiment.eval.dataset}"
            ),
            "config": str(args.config),
            "languages": config.languages,
            "strategy": args.strategy,
            "alpha": args.alpha,
            "steps": args.steps,
            "seed": args.seed,
            "precision": summary.get("precision", config.precision),  # as the runs trained
            "criterion": "mean of dev mono, cross and multilingual mAP",
            "base": base,
            "settings": rows,
            "chosen": best,
        },
    )
    print("chosen:", json.dumps(best))


if __name__ == "__main__":
    main()
