"""``polyret compare``: two experiments that differ in one setting, strategy by strategy."""

from __future__ import annotations

import argparse
from pathlib import Path

from polyret.cli.parser import ArgumentParser
from polyret.flags import add_data_dir, add_no_progress


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret compare",
        description="Compare the committed evaluations of two experiment report folders that "
        "differ in one setting (precision, a library, a machine): per strategy, kind and "
        "condition, each seed's mAP, whether the second's mean lies in the first's seed range, "
        "second − first paired by seed with its 95% interval (questions clustered by article, "
        "Holm over the table), and every strategy contrast in both.",
    )
    p.add_argument("reference", type=Path, help="the reference report folder (with evals/)")
    p.add_argument("other", type=Path, help="the report folder compared with it")
    p.add_argument(
        "--labels",
        nargs=2,
        default=("reference", "other"),
        metavar=("REF", "OTHER"),
        help="names of the two in the tables (e.g. fp32 bf16)",
    )
    p.add_argument("--dataset", default="xquad-r", help="the evaluated dataset (its articles)")
    add_data_dir(p)
    p.add_argument(
        "--output", type=Path, default=None, help="also write FILE.md and FILE.json (a .md path)"
    )
    add_no_progress(p)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from polyret.data.lareqa import load_lareqa
    from polyret.errors import ConfigError
    from polyret.experiment.compare import compare_experiments
    from polyret.io import write_json, write_text

    for folder in (args.reference, args.other):
        if not (folder / "evals").is_dir():
            raise ConfigError(f"{folder}: no evals/ folder (give an experiment's report folder)")
    articles = load_lareqa(args.dataset, data_dir=args.data_dir).question_articles()
    try:
        text, record = compare_experiments(
            args.reference, args.other, articles, labels=tuple(args.labels)
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.output is not None:
        write_text(args.output, text)
        write_json(args.output.with_suffix(".json"), record)
    print(text, end="")
    return 0
