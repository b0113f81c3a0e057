"""``polyret debias``: append a language-debiasing step to a model, fitted on calibration text."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from polyret.cli.parser import ArgumentParser
from polyret.configfile import split_languages
from polyret.errors import ConfigError
from polyret.flags import add_data_dir, add_device, add_no_progress, add_precision
from polyret.io import check_output_dir
from polyret.models.resolve import DEFAULT_MODEL

logger = logging.getLogger(__name__)

METHODS = ("center", "project")
CENTROID_SOURCES = ("pooled", "per-kind", "passage", "query")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret debias",
        description=(
            "Remove most of the language signal from a model's embeddings without training: "
            "estimate each language's mean embedding from plain sentences and subtract it "
            "(center), or project out the subspace the language means span (project). Writes "
            "a sentence-transformers model folder."
        ),
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model spec: a folder, a hub id or a bundled model (default {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--calibration",
        required=True,
        metavar="SOURCE",
        help="a folder of <lang>.txt files (one sentence per line), or 'ntrex' for NTREX-128's "
        "calibration part (its evaluation part is held out)",
    )
    p.add_argument(
        "--output-dir", "--out", dest="out", required=True, type=Path, help="output model folder"
    )
    p.add_argument(
        "--languages",
        nargs="+",
        metavar="LANG",
        help="languages to calibrate (default: every <lang>.txt, or the 11 XQuAD-R languages for ntrex)",
    )
    p.add_argument(
        "--sentences",
        type=int,
        default=300,
        metavar="N",
        help="sentences (and queries) per language (default 300)",
    )
    p.add_argument(
        "--method", choices=METHODS, default="center", help="center (default) or project"
    )
    p.add_argument(
        "--centroids",
        choices=CENTROID_SOURCES,
        default="pooled",
        help="pooled (default): one set of centroids from the text encoded as queries and as "
        "passages; per-kind: query and passage centroids apart; passage/query: from that "
        "encoding only",
    )
    p.add_argument(
        "--query-calibration",
        metavar="SOURCE",
        default=None,
        help="real queries for the query centroids: a folder of <lang>.txt (one query per "
        "line) or a LAReQA dataset (xquad-r, mlqa-r) whose questions to use; languages without "
        "queries get their query centroid shifted like the others'. Recommended: on MLQA-R it "
        "turns centering's monolingual loss into a gain",
    )
    p.add_argument(
        "--k", type=int, default=None, help="project: directions removed (default: languages - 1)"
    )
    add_data_dir(p, holds="ntrex-128/")
    p.add_argument(
        "--uncentered-ok",
        action="store_true",
        help="leave requested languages without calibration text uncentered instead of failing",
    )
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size (default 64)")
    add_device(p)
    add_precision(
        p,
        what="precision of the calibration encoding",
        note="The saved model keeps its float32 weights",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace --output-dir if it holds something"
    )
    p.add_argument(
        "--push-to-hub",
        metavar="OWNER/NAME",
        default=None,
        help="upload the debiased model to this hub repository (checked before encoding: a "
        "token and a reachable hub)",
    )
    add_no_progress(p)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.k is not None and args.method != "project":
        raise ConfigError("--k applies to --method project only")
    if args.k is not None and args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    args.languages = split_languages(args.languages, "--languages")
    check_output_dir(args.out, overwrite=args.overwrite)
    if args.push_to_hub is not None:
        from polyret.hub import check_hub

        check_hub(args.push_to_hub)

    from polyret import __version__
    from polyret.debias.calibration import load_calibration
    from polyret.models import resolve_model

    resolved = resolve_model(args.model)  # a bad model is reported before missing text
    calibration = load_calibration(
        args.calibration,
        languages=args.languages,
        sentences=args.sentences,
        data_dir=args.data_dir,
        missing_ok=args.uncentered_ok,
    )
    if args.method == "project" and len(calibration.texts) < 2:
        raise ConfigError("--method project needs calibration text in at least two languages")
    queries = None
    if args.query_calibration is not None:
        from polyret.debias.calibration import load_queries

        queries = load_queries(
            args.query_calibration,
            languages=list(calibration.texts),
            sentences=args.sentences,
            data_dir=args.data_dir,
        )

    from polyret.debias.fit import fit_centering, save_debiased_model
    from polyret.models import load_model
    from polyret.precision import set_precision

    model = load_model(resolved, device=args.device)
    precision = set_precision(model, args.precision)
    logger.info(
        "encoding %d sentences x %d languages (%s)",
        args.sentences,
        len(calibration.texts),
        args.centroids,
    )
    debiaser = fit_centering(
        model,
        calibration,
        method=args.method,
        centroids=args.centroids,
        k=args.k,
        queries=queries,
        batch_size=args.batch_size,
    )
    record = {
        "polyret_version": __version__,
        "base_model": args.model,
        "calibration": calibration.describe(),
        "centroids": args.centroids,
        "uncentered_languages": list(calibration.missing),
        "precision": precision,
    }
    if queries is not None:
        record["queries"] = queries.describe()
        record["query_centroids_transferred"] = list(queries.missing)
    if args.method == "project":
        record["k"] = debiaser.k  # type: ignore[attr-defined]
    save_debiased_model(model, debiaser, args.out, record=record)
    from polyret.debias.fit import HOW_TO_LOAD

    languages = len(calibration.texts)
    print(f"wrote {args.out} ({args.method}, {languages} languages); {HOW_TO_LOAD[args.method]}")
    if args.push_to_hub is not None:
        from polyret.hub import push_folder

        print(f"pushed to {push_folder(args.out, args.push_to_hub)}")
    return 0
