"""``polyret experiment``: train strategies over seeds, evaluate everything, write one report."""

from __future__ import annotations

import argparse

from polyret.cli.parser import ArgumentParser
from polyret.flags import add_data_dir, add_no_progress, add_precision


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="polyret experiment",
        description="Train the strategies of an experiment config (mono-only, cross-only, hybrid with "
        "several alphas) over several seeds from one base model and step budget, evaluate the base model "
        "and every trained model, and write one report. Finished runs and evaluations are cached; a "
        "killed experiment resumes where it stopped.",
    )
    parser.add_argument("--config", required=True, help="experiment YAML (see experiments/)")
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir")
    parser.add_argument(
        "--report-dir",
        default=None,
        help="override the config's report_dir (report, plots and finished evaluations to commit)",
    )
    add_data_dir(parser)
    parser.add_argument(
        "--report-only", action="store_true", help="only rebuild the report from finished runs"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved experiment (YAML) and each run's training configuration, then "
        "exit without running anything",
    )
    add_precision(
        parser, what="override the config's precision of training and evaluation", default=None
    )
    add_no_progress(parser)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from polyret.experiment.config import ExperimentConfig
    from polyret.experiment.runner import run_experiment

    config = ExperimentConfig.from_yaml(args.config)
    if args.output_dir:
        config.output_dir = args.output_dir
    if args.report_dir:
        config.report_dir = args.report_dir
    if args.data_dir:
        config.data_dir = args.data_dir
    if args.precision:
        config.precision = args.precision
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
    report = run_experiment(config, report_only=args.report_only, command=command)
    print(f"report: {report.resolve()}")
    return 0
