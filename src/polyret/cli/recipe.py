"""``polyret recipe``: choose the learning rate and scale, or screen batch designs, on a dev split
of an experiment's training data (:mod:`polyret.experiment.recipe`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from polyret.cli.parser import ArgumentParser
from polyret.flags import add_no_progress, add_precision


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret recipe",
        description="Choose an experiment's recipe on a dev split of its training data, never on "
        "its evaluation set: hold out whole articles (--dev-fraction), train one strategy for "
        "--steps at each learning rate x scale, score each on the held-out articles (mono, cross "
        "and multilingual mAP) and choose the best mean. With --designs, screen batch designs at "
        "the experiment's recipe instead and choose the two best by multilingual mAP whose mono "
        "and cross mAP are not below the reference's. Finished runs are reused: a killed study "
        "resumes.",
    )
    p.add_argument("--config", type=Path, required=True, help="the experiment YAML")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where study.json (screen.json) goes (default: results/recipe/<experiment>, "
        "designs: results/designs/screen)",
    )
    p.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="the training runs (default: runs/recipe/<experiment>, designs: runs/designs-screen)",
    )
    p.add_argument("--steps", type=int, default=100, help="steps per run (default 100)")
    p.add_argument(
        "--dev-fraction",
        type=float,
        default=0.1,
        help="share of the training articles held out (default 0.1)",
    )
    p.add_argument(
        "--learning-rates",
        type=float,
        nargs="+",
        default=[1e-5, 2e-5, 5e-5],
        help="the grid's learning rates (default 1e-5 2e-5 5e-5)",
    )
    p.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[20.0, 50.0, 100.0],
        help="the grid's similarity scales (default 20 50 100)",
    )
    p.add_argument("--strategy", default="hybrid", help="the strategy trained (default hybrid)")
    p.add_argument("--alpha", type=float, default=0.5, help="hybrid's alpha (default 0.5)")
    p.add_argument("--seed", type=int, default=1, help="default 1")
    add_precision(p, what="training precision", default=None)
    p.add_argument(
        "--designs",
        type=Path,
        default=None,
        help="screen these strategies (a YAML file with strategies: as an experiment's) instead",
    )
    p.add_argument(
        "--reference", default="hybrid-0.5", help="--designs: the reference (default hybrid-0.5)"
    )
    add_no_progress(p)
    return p


def main(argv: list[str]) -> int:
    args = vars(build_parser().parse_args(argv))
    del args["no_progress"]  # polyret.cli.main switched the bars off
    from polyret.experiment.recipe import RecipeStudy, run_study

    record = run_study(RecipeStudy(**args))
    chosen = record["chosen"]
    print("chosen:", json.dumps(chosen))
    return 0
