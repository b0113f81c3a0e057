"""``polyret experiment``: train strategies over seeds, evaluate everything, write one report."""

from __future__ import annotations

import argparse
from pathlib import Path

from polyret.cli.parser import ArgumentParser
from polyret.configfile import add_option_arguments
from polyret.experiment.config import ExperimentConfig
from polyret.flags import add_no_progress


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="polyret experiment",
        description="Train the strategies of an experiment config (mono-only, cross-only, hybrid with "
        "several alphas) over several seeds from one base model and step budget, evaluate the base model "
        "and every trained model, and write one report. Finished runs and evaluations are cached; a "
        "killed experiment resumes where it stopped.",
    )
    parser.add_argument("--config", required=True, help="experiment YAML (see experiments/)")
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild the report from finished runs"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved experiment (YAML) and each run's training configuration, then "
        "exit without running anything",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="RUN",
        help="train and evaluate only these strategies (every seed) or runs (<strategy>-seed<N>), "
        "and write no report: to run some first; a later invocation without --only reuses them",
    )
    add_no_progress(parser)
    options = parser.add_argument_group(
        "experiment options", "each overrides the config's value (eval: and centering: included)"
    )
    add_option_arguments(options, ExperimentConfig)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from polyret.experiment.runner import run_experiment

    run_flags = ("config", "report_only", "print_config", "no_progress", "only")
    overrides = {k: v for k, v in vars(args).items() if k not in run_flags}
    config = ExperimentConfig.from_yaml(args.config, overrides)
    if args.print_config:
        import yaml

        print(config.to_yaml(), end="")
        for spec in config.strategies:
            for seed in config.seeds:
                run = config.train_config(spec, seed)
                print(f"# {config.run_name(spec, seed)}: polyret train --config <this block>")
                print(yaml.safe_dump({"run": run.to_dict()}, sort_keys=False), end="")
        return 0
    command = "polyret experiment " + " ".join(argv)
    report = run_experiment(config, report_only=args.report_only, command=command, only=args.only)
    if report is None:
        print(f"runs: {(Path(config.output_dir) / 'runs').resolve()} (no report: --only)")
    else:
        print(f"report: {report.resolve()}")
    return 0
