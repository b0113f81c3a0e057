"""Choose the recipe (learning rate, similarity scale) or screen batch designs on a dev split of
the training data, never on the evaluation set: ``polyret recipe``.

Takes an experiment's training set-up (its config: base model, ``train:`` section, precision),
holds out whole articles of the training data (``dev_fraction``), trains one strategy (default
hybrid-0.5, seed 1) for a short budget at each (learning rate, scale) of a grid, scores each model
on those held-out articles (mono, cross, multilingual mAP) and writes one row per setting plus
the choice: the setting with the best mean of the three mAPs. A finished run of the same
configuration is reused, so a killed study resumes.

    polyret recipe --config experiments/protocol_b.yaml --steps 100

With ``designs`` it screens batch designs instead: the file lists strategies as an experiment's
``strategies:`` does (strategy, alpha, mixed_share, their own ``train:`` options), each trained
with the experiment's recipe on the same dev split; the two best by dev multilingual mAP whose
dev mono and cross mAP are not below the reference's (default hybrid-0.5) are chosen.

    polyret recipe --config experiments/designs_screen.yaml --steps 300 \
        --designs experiments/designs.yaml --out results/designs/screen
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyret.errors import ConfigError
from polyret.experiment.config import ExperimentConfig, StrategySpec
from polyret.io import write_json
from polyret.training.config import TrainConfig
from polyret.training.data import load_training_data
from polyret.training.trainer import check_same_run, dev_evaluator, read_summary, train

KEYS = ("dev_mono_map", "dev_cross_map", "dev_multi_map")
logger = logging.getLogger(__name__)


@dataclass
class RecipeStudy:
    """One study: the experiment whose set-up it takes, the dev split, the budget and either
    the (learning rate, scale) grid or, with ``designs``, the designs to screen."""

    config: Path
    out: Path | None = (
        None  # default: results/recipe/<experiment> (designs: results/designs/screen)
    )
    runs: Path | None = None  # default: runs/recipe/<experiment> (designs: runs/designs-screen)
    steps: int = 100
    dev_fraction: float = 0.1
    learning_rates: list[float] = field(default_factory=lambda: [1e-5, 2e-5, 5e-5])
    scales: list[float] = field(default_factory=lambda: [20.0, 50.0, 100.0])
    strategy: str = "hybrid"
    alpha: float = 0.5
    seed: int = 1
    precision: str | None = None  # default: the experiment's
    designs: Path | None = None
    reference: str = "hybrid-0.5"  # designs: the design the others must not fall below

    def __post_init__(self) -> None:
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"--dev-fraction must lie in (0, 1), got {self.dev_fraction}")
        if self.steps < 1:
            raise ConfigError(f"--steps must be at least 1, got {self.steps}")
        if not self.learning_rates or not self.scales:
            raise ConfigError("--learning-rates and --scales need at least one value each")


def run_study(study: RecipeStudy) -> dict[str, Any]:
    """The grid (or, with ``designs``, the screen): trained, scored, written; the record."""
    experiment = ExperimentConfig.from_yaml(study.config)
    if study.designs is not None:
        return screen_designs(study, experiment)
    return select_recipe(study, experiment)


def base_row(config: TrainConfig) -> dict[str, float]:
    """The untrained model on the same dev split, at the same precision: the reference."""
    from polyret.models import load_model

    dev = load_training_data(config).dev
    if dev is None:
        raise ConfigError("the study's config holds out no dev articles")
    evaluator = dev_evaluator(dev, config, config.precision)
    metrics = evaluator(load_model(config.model))
    row = {k: metrics[k] for k in KEYS}
    row["mean_map"] = sum(row.values()) / len(KEYS)
    logger.info("base: %s", json.dumps(row))
    return row


def setting_config(
    experiment: ExperimentConfig,
    spec: StrategySpec,
    study: RecipeStudy,
    lr: float | None,
    scale: float | None,
    run: Path,
) -> TrainConfig:
    """The experiment's run config for ``spec`` with the study's dev split, budget and setting
    (``lr`` / ``scale`` None: the experiment's). A design's own ``max_steps`` (a larger batch at
    the same number of pairs) scales the study's budget by the same factor."""
    config = experiment.train_config(spec, study.seed)
    steps = study.steps
    if "max_steps" in spec.train:
        steps = max(1, round(study.steps * spec.train["max_steps"] / experiment.train["max_steps"]))
    return dataclasses.replace(  # replace() validates the changed config again
        config,
        dev_fraction=study.dev_fraction,
        max_steps=steps,
        save_steps=max(steps // 2, 1),
        learning_rate=config.learning_rate if lr is None else lr,
        scale=config.scale if scale is None else scale,
        output_dir=str(run),
        **({"precision": study.precision} if study.precision is not None else {}),
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


def screen_designs(study: RecipeStudy, experiment: ExperimentConfig) -> None:
    """Train every design of ``study.designs`` on the dev split and choose the two best."""
    from polyret.configfile import read_yaml_mapping

    listed = read_yaml_mapping(study.designs).get("strategies")
    specs = ExperimentConfig.from_dict(
        {"name": "designs", "output_dir": "-", "train": experiment.train, "strategies": listed}
    ).strategies
    out = study.out or Path("results/designs/screen")
    runs = study.runs or Path("runs/designs-screen")
    rows, infeasible, config = [], [], None
    for spec in specs:
        config = setting_config(experiment, spec, study, None, None, runs / spec.name)
        described = {"name": spec.name, "strategy": spec.strategy, "alpha": spec.alpha,
                     "mixed_share": spec.mixed_share, "train": spec.train,
                     "steps": config.max_steps, "batch_size": config.batch_size}  # fmt: skip
        try:
            row = {**described, **run_setting(config, runs / spec.name)}
        except ConfigError as exc:
            # A design the data cannot hold (e.g. too few linked question groups for its batch
            # size) is a finding of the screen, not a reason to lose the others.
            logger.warning("design %s cannot be trained: %s", spec.name, exc)
            infeasible.append({**described, "error": str(exc)})
            continue
        rows.append(row)
        logger.info("%s", json.dumps(row))
    if config is None:
        raise ConfigError(f"{study.designs}: no strategies")
    reference = next((r for r in rows if r["name"] == study.reference), None)
    if reference is None:
        raise ConfigError(f"--reference {study.reference!r} is not among the designs")
    # The designs: neither the reference nor a plain baseline (mono or cross, no options).
    baseline = {"mono", "cross"}
    eligible = [
        r
        for r in rows
        if r["name"] != study.reference
        and not (r["strategy"] in baseline and not r["train"])
        and r["dev_mono_map"] >= reference["dev_mono_map"]
        and r["dev_cross_map"] >= reference["dev_cross_map"]
    ]
    chosen = sorted(eligible, key=lambda r: -r["dev_multi_map"])[:2]
    record = {
        "what": (
            f"dev split of {config.dataset} ({study.dev_fraction:.0%} of articles held out, "
            f"seed {study.seed}), never {experiment.eval.dataset}"
        ),
        "config": str(study.config),
        "designs": str(study.designs),
        "languages": config.languages,
        "learning_rate": config.learning_rate,
        "scale": config.scale,
        "steps": study.steps,
        "seed": study.seed,
        "criterion": (
            "dev multilingual mAP, among the designs (not the reference, not a plain "
            f"baseline) whose dev mono and cross mAP are not below {study.reference}'s"
        ),
        "base": base_row(config),
        "designs_screened": rows,
        "designs_infeasible": infeasible,
        "chosen": [r["name"] for r in chosen],
    }
    write_json(out / "screen.json", record)
    return record


def select_recipe(study: RecipeStudy, experiment: ExperimentConfig) -> dict[str, Any]:
    """Train the grid on the dev split and choose the setting with the best mean dev mAP."""
    out = study.out or Path("results/recipe") / experiment.name
    runs = study.runs or Path("runs/recipe") / experiment.name
    spec = StrategySpec(name=study.strategy, strategy=study.strategy, alpha=study.alpha)
    rows = []
    config = None
    for lr, scale in itertools.product(study.learning_rates, study.scales):
        name = f"lr{lr:g}-scale{scale:g}"
        run = runs / name
        config = setting_config(experiment, spec, study, lr, scale, run)
        result = run_setting(config, run)
        summary = {"precision": result.pop("precision")}
        row = {"name": name, "learning_rate": lr, "scale": scale, **result}
        rows.append(row)
        logger.info("%s", json.dumps(row))
    if config is None:
        raise ConfigError("empty grid")
    best = max(rows, key=lambda r: r["mean_map"])
    base = base_row(config)
    record = {
        "what": (
            f"dev split of {config.dataset} ({study.dev_fraction:.0%} of articles held out, "
            f"seed {study.seed}), never {experiment.eval.dataset}"
        ),
        "config": str(study.config),
        "languages": config.languages,
        "strategy": study.strategy,
        "alpha": study.alpha,
        "steps": study.steps,
        "seed": study.seed,
        "precision": summary.get("precision", config.precision),  # as the runs trained
        "criterion": "mean of dev mono, cross and multilingual mAP",
        "base": base,
        "settings": rows,
        "chosen": best,
    }
    write_json(out / "study.json", record)
    return record
