"""``polyret debias``: append a language-debiasing step to a model, fitted on calibration text.

The options are :class:`polyret.debias.options.DebiasOptions` (flags, or a YAML file with
``--config``)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from polyret.cli.parser import ArgumentParser, parse_config_flags, print_config
from polyret.configfile import add_option_arguments
from polyret.debias.options import DebiasOptions, Method
from polyret.errors import ConfigError
from polyret.flags import add_no_progress
from polyret.io import check_output_dir

logger = logging.getLogger(__name__)

# Flags about this invocation, not debiasing options.
RUN_FLAGS = ("config", "print_config", "push_to_hub", "no_progress")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret debias",
        description=(
            "Remove most of the language signal from a model's embeddings without training: "
            "estimate each language's mean embedding from plain sentences and subtract it "
            "(center), or project out the subspace the language means span (project). Writes "
            "a sentence-transformers model folder. Options come from --config FILE.yaml and/or "
            "flags (flags win)."
        ),
    )
    p.add_argument("--config", default=None, help="YAML file with any of the options below")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved options (YAML, loadable with --config) and exit",
    )
    add_option_arguments(p, DebiasOptions)
    p.add_argument(
        "--push-to-hub",
        metavar="OWNER/NAME",
        default=None,
        help="upload the debiased model to this hub repository (checked before encoding: a "
        "token and a reachable hub)",
    )
    add_no_progress(p)
    return p


def parse_options(argv: list[str]) -> tuple[dict[str, Any], DebiasOptions]:
    """(this invocation's flags, the debiasing options) from the command line (and --config)."""
    return parse_config_flags(build_parser(), DebiasOptions, argv, RUN_FLAGS)


def main(argv: list[str]) -> int:
    run, opts = parse_options(argv)
    if run["print_config"]:
        print_config(opts)
        return 0
    check_output_dir(opts.out, overwrite=opts.overwrite)
    if run["push_to_hub"] is not None:
        from polyret.hub import check_hub

        check_hub(run["push_to_hub"])

    from polyret import __version__
    from polyret.debias.calibration import load_calibration
    from polyret.models import resolve_model

    resolved = resolve_model(opts.model)  # a bad model is reported before missing text
    calibration = load_calibration(
        opts.calibration,
        languages=opts.languages,
        sentences=opts.sentences,
        data_dir=opts.data_dir,
        missing_ok=opts.uncentered_ok,
    )
    if opts.method is Method.PROJECT and len(calibration.texts) < 2:
        raise ConfigError("--method project needs calibration text in at least two languages")
    queries = None
    if opts.query_calibration is not None:
        from polyret.debias.calibration import load_queries

        queries = load_queries(
            opts.query_calibration,
            languages=list(calibration.texts),
            sentences=opts.sentences,
            data_dir=opts.data_dir,
        )

    from polyret.debias.fit import fit_centering, save_debiased_model
    from polyret.models import load_model
    from polyret.precision import set_precision

    model = load_model(resolved, device=opts.device)
    precision = set_precision(model, opts.precision)
    logger.info(
        "encoding %d sentences x %d languages (%s)",
        opts.sentences,
        len(calibration.texts),
        opts.centroids.value,
    )
    debiaser = fit_centering(
        model,
        calibration,
        method=opts.method,
        centroids=opts.centroids,
        k=opts.k,
        queries=queries,
        batch_size=opts.batch_size,
    )
    record = {
        "polyret_version": __version__,
        "base_model": opts.model,
        "calibration": calibration.describe(),
        "centroids": opts.centroids.value,
        "uncentered_languages": list(calibration.missing),
        "precision": precision,
    }
    if queries is not None:
        record["queries"] = queries.describe()
        record["query_centroids_transferred"] = list(queries.missing)
    if opts.method is Method.PROJECT:
        record["k"] = debiaser.k  # type: ignore[attr-defined]
    save_debiased_model(model, debiaser, opts.out, record=record)
    from polyret.debias.fit import HOW_TO_LOAD

    languages = len(calibration.texts)
    print(
        f"wrote {opts.out} ({opts.method.value}, {languages} languages); "
        f"{HOW_TO_LOAD[opts.method.value]}"
    )
    if run["push_to_hub"] is not None:
        from polyret.hub import push_folder

        print(f"pushed to {push_folder(opts.out, run['push_to_hub'])}")
    return 0
