"""``polyret eval``: evaluate a model on XQuAD-R / MLQA-R in every setting, with language bias.

``--dataset ntrex`` scores out-of-domain sentence retrieval on NTREX-128's evaluation part
(:mod:`polyret.evaluation.ntrex`) with the same outputs. MIRACL and BEIR (``--dataset miracl`` or ``beir:PATH``) go to the corpus evaluator.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import time
from pathlib import Path
from typing import Any

from polyret.cli.parser import ArgumentParser
from polyret.configfile import split_languages
from polyret.errors import ConfigError
from polyret.flags import add_data_dir, add_device, add_no_progress, add_precision
from polyret.io import check_output_dir
from polyret.models.resolve import DEFAULT_MODEL

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret eval",
        description=(
            "Evaluate a retriever on XQuAD-R or MLQA-R: monolingual, cross-lingual (every ordered "
            "language pair, over shared question ids) and multilingual (one pool of all languages), "
            "with mAP, nDCG@10, Recall@k and language bias. Every text is encoded once."
        ),
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model spec: a folder, a hub id or a bundled model (default {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="xquad-r, mlqa-r, a folder of <lang>.json files, ntrex (NTREX-128 sentence retrieval "
        "on its evaluation part), or miracl / beir:PATH (corpus evaluation)",
    )
    p.add_argument(
        "--languages",
        nargs="+",
        metavar="LANG",
        help="languages to load (default: every file; ntrex: the 11 XQuAD-R languages)",
    )
    p.add_argument(
        "--seen-languages",
        nargs="+",
        metavar="LANG",
        help="training languages: aggregates are also split into seen / unseen",
    )
    add_data_dir(p)
    p.add_argument(
        "--output-dir",
        "--out",
        dest="out",
        type=Path,
        default=None,
        help="write results.json, report.md, ranks.jsonl and plots here",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results in --output-dir if it holds any",
    )
    p.add_argument(
        "--articles",
        type=int,
        default=None,
        metavar="N",
        help="a quick evaluation: only the questions of N evenly spaced articles and the "
        "sentences of their paragraphs (every setting still scored)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size (default 64)")
    p.add_argument(
        "--candidate-text",
        choices=("sentence", "sentence+context"),
        default="sentence",
        help="encode each candidate sentence alone (default) or followed by its paragraph",
    )
    p.add_argument(
        "--save-runs",
        action="store_true",
        help="also write TREC runs and qrels per setting under --out",
    )
    p.add_argument(
        "--run-depth",
        type=int,
        default=100,
        metavar="N",
        help="results per query in the run files (default 100; 0 = the full pool, which trec_eval's map needs)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=512,
        help="queries scored at once (default 512; memory ~ N x pool size x 25 bytes)",
    )
    add_device(p)
    add_precision(p, note="The resolved one is written into results.json")
    add_no_progress(p)
    _add_corpus_arguments(p)
    _add_debias_arguments(p)
    return p


def _add_corpus_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the corpus evaluation (MIRACL, BEIR), in a group of their own."""
    corpus = p.add_argument_group("corpus evaluation (--dataset miracl or beir:PATH)")
    corpus.add_argument(
        "--split", default=None, help="qrels split (default: dev for MIRACL, test for BEIR)"
    )
    corpus.add_argument("--k", type=int, default=100, help="results per query (default 100)")
    corpus.add_argument(
        "--index",
        choices=("flat", "ivf", "hnsw"),
        default="flat",
        help="FAISS index (default exact flat)",
    )
    corpus.add_argument(
        "--dtype", choices=("float16", "float32"), default="float16", help="stored vectors"
    )
    corpus.add_argument(
        "--shard-size", type=int, default=50_000, help="documents per encoded shard"
    )
    corpus.add_argument(
        "--encode-dir", type=Path, default=None, help="where encoded shards go (reused)"
    )
    corpus.add_argument(
        "--multilingual-pool",
        action="store_true",
        help="also search one pool of all languages' corpora and report language shares",
    )


def _add_debias_arguments(p: argparse.ArgumentParser) -> None:
    """``--debias``: the centered model scored beside the plain one."""
    p.add_argument(
        "--debias",
        metavar="SOURCE",
        default=None,
        help="also evaluate the model with language centering fitted on SOURCE (a folder of "
        "<lang>.txt or 'ntrex'), side by side, from the same encoding of the evaluation texts",
    )
    p.add_argument(
        "--debias-method",
        choices=("center", "project"),
        default="center",
        help="see polyret debias",
    )
    p.add_argument(
        "--debias-queries",
        metavar="SOURCE",
        default=None,
        help="real queries for the query centroids (see polyret debias --query-calibration): a "
        "folder of <lang>.txt or a LAReQA dataset other than the one evaluated",
    )
    p.add_argument(
        "--debias-sentences",
        type=int,
        default=300,
        help="calibration sentences (and queries) per language",
    )


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN / inf become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    languages = split_languages(args.languages, "--languages")
    seen = split_languages(args.seen_languages, "--seen-languages")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.articles is not None and args.articles < 1:
        raise ConfigError(f"--articles must be at least 1, got {args.articles}")
    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.run_depth < 0:
        raise ConfigError(f"--run-depth must be 0 (full pool) or positive, got {args.run_depth}")
    if args.save_runs and args.out is None:
        raise ConfigError("--save-runs needs --output-dir")
    if args.out is not None:
        check_output_dir(args.out, overwrite=args.overwrite)
    if args.debias_queries and not args.debias:
        raise ConfigError("--debias-queries needs --debias SOURCE")
    _check_dataset_name(args.dataset)
    corpus = args.dataset == "miracl" or args.dataset.startswith("beir:")
    if corpus and args.debias:
        raise ConfigError(
            "--debias applies to LAReQA datasets; for a corpus, debias the model with "
            "polyret debias and evaluate the saved folder"
        )
    from polyret.models import resolve_model

    resolved = resolve_model(args.model)  # a bad model is reported before a missing dataset
    if corpus:
        return _corpus_eval(args, languages)
    return _lareqa_eval(args, argv, resolved, languages, seen)


def _check_dataset_name(name: str) -> None:
    """Refuse a name that is neither a known dataset nor a path, listing what eval takes."""
    from polyret.corpus.datasets import parse_dataset
    from polyret.data.registry import DATASETS

    lareqa = [n for n, info in DATASETS.items() if info.relpath.startswith("lareqa/")]
    if name in lareqa or name in NTREX_NAMES or "/" in name or "\\" in name:
        return
    try:
        parse_dataset(name)  # miracl, beir:PATH
        return
    except ConfigError:
        pass
    if Path(name).expanduser().is_dir():
        return
    known = [*lareqa, NTREX_NAMES[0], "miracl", "beir:PATH"]
    raise ConfigError(
        f"unknown dataset {name!r}; polyret eval takes {', '.join(known)}, or a folder of "
        "LAReQA <lang>.json files"
    )


def _corpus_eval(args: argparse.Namespace, languages: list[str] | None) -> int:
    try:
        from polyret.corpus.evaluate import CorpusEvalConfig, run_corpus_eval
    except ImportError as exc:
        raise ConfigError(
            f"--dataset {args.dataset} needs the corpus evaluator (polyret.corpus.evaluate), "
            f"which cannot be imported: {exc}"
        ) from None
    run_corpus_eval(
        CorpusEvalConfig(
            model=args.model,
            dataset=args.dataset,
            languages=languages,
            data_dir=args.data_dir,
            out_dir=args.out,
            batch_size=args.batch_size,
            save_runs=args.save_runs,
            device=args.device,
            split=args.split,
            k=args.k,
            index=args.index,
            dtype=args.dtype,
            shard_size=args.shard_size,
            encode_dir=args.encode_dir,
            multilingual_pool=args.multilingual_pool,
            show_progress=not args.no_progress,
            precision=args.precision,
        )
    )
    return 0


def _lareqa_eval(
    args: argparse.Namespace,
    argv: list[str],
    resolved: Any,
    languages: list[str] | None,
    seen: list[str] | None,
) -> int:
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation import (
        LareqaEvalConfig,
        language_bias,
        write_lareqa_runs,
    )
    from polyret.models import load_model
    from polyret.precision import set_precision
    from polyret.reports.lareqa import headline_table

    start = time.perf_counter()
    ntrex = args.dataset in NTREX_NAMES
    if ntrex:
        config, dataset = _ntrex_setup(args, languages, seen)
    else:
        config = LareqaEvalConfig(
            batch_size=args.batch_size,
            candidate_text=args.candidate_text,
            seen_languages=seen,
            chunk_size=args.chunk_size,
            show_progress=not args.no_progress,
        )
        dataset = load_lareqa(args.dataset, languages, data_dir=args.data_dir)
    if args.articles is not None:  # NTREX-128: documents
        dataset = dataset.select_articles(args.articles)
    calibration, queries = _debias_inputs(args, dataset, ntrex)
    t_data = time.perf_counter()
    model = load_model(resolved, device=args.device)
    precision = set_precision(model, args.precision)  # also for the debiasing calibration
    t_model = time.perf_counter()
    logger.info(
        "%s: %d languages, %d questions, %d candidates", dataset.name, len(dataset.langs),
        dataset.n_questions, dataset.n_candidates,
    )  # fmt: skip
    embeddings = config.encode(model, dataset)
    result = config.score(dataset, embeddings)
    timings = {
        "load_data": t_data - start,
        "load_model": t_model - t_data,
        "encode": result.timings["encode"],
        "score": result.timings["score"],
    }
    print(headline_table(result))
    if args.out is None:
        return 0

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    runs_info = None
    if args.save_runs:
        t_runs = time.perf_counter()
        depth = None if args.run_depth == 0 else args.run_depth
        runs_info = write_lareqa_runs(
            dataset, embeddings, out / "trec", depth=depth, chunk_size=config.chunk_size
        )
        timings["runs"] = time.perf_counter() - t_runs
    timings["total"] = time.perf_counter() - start
    meta = _eval_meta(args, argv, resolved, dataset, config, embeddings, model, precision, seen)
    meta["timings"] = timings
    if ntrex:
        from polyret.evaluation.ntrex import PROTOCOL

        meta["protocol"] = PROTOCOL
    _write_outputs(out, result, meta, runs_info, language_bias(result))
    print(
        f"\nwrote {out}/results.json, report.md, ranks.jsonl, plots"
        + (", trec/" if runs_info else "")
    )
    if calibration is not None:
        _debiased_eval(
            args, calibration, queries, model, dataset, embeddings, result, config, meta, out
        )
    return 0


def _debias_inputs(args: argparse.Namespace, dataset: Any, ntrex: bool) -> tuple[Any, Any]:
    """``--debias`` calibration text and ``--debias-queries``, read (and checked) before the
    long encoding; None where not asked for."""
    calibration = queries = None
    if args.debias:  # read (and check) the calibration text before the long encoding
        from polyret.debias import load_calibration

        calibration = load_calibration(
            args.debias,
            languages=dataset.langs,
            sentences=args.debias_sentences,
            data_dir=args.data_dir,
        )
        if ntrex:
            from polyret.evaluation.ntrex import check_held_out

            check_held_out(calibration, dataset)
    if args.debias_queries:
        from polyret.debias import load_queries

        queries = load_queries(
            args.debias_queries,
            languages=dataset.langs,
            sentences=args.debias_sentences,
            data_dir=args.data_dir,
            evaluated=dataset,
        )
    return calibration, queries


def _eval_meta(
    args: argparse.Namespace,
    argv: list[str],
    resolved: Any,
    dataset: Any,
    config: Any,
    embeddings: Any,
    model: Any,
    precision: str,
    seen: list[str] | None,
) -> dict[str, Any]:
    """results.json's record of what was evaluated, how, and with which data (no timings)."""
    from polyret import __version__

    ntrex = args.dataset in NTREX_NAMES
    return {
        "polyret_version": __version__,
        "command": "polyret eval " + shlex.join(argv),
        "model": {**resolved.to_dict(), "embedding_dim": embeddings.dim},
        "dataset": {
            "name": dataset.name,
            "folder": str(dataset.root),
            "languages": dataset.langs,
            "files": {
                lang: {
                    "path": str(d.path),
                    "sha256": d.sha256,
                    "questions": len(d.questions),
                    "candidates": len(d.candidates),
                }
                for lang, d in dataset.languages.items()
            },
            **(_ntrex_meta(dataset) if ntrex else {}),
        },
        "options": {
            "candidate_text": config.candidate_text,
            "batch_size": config.batch_size,
            "chunk_size": config.chunk_size,
            "device": args.device or str(getattr(model, "device", "")),
            "precision": precision,
            "ks": list(config.ks),
            "ndcg_k": config.ndcg_k,
            "seen_languages": seen,
            "save_runs": args.save_runs,
            "articles": args.articles,  # None: every article
        },
        "encoding": {
            "unique_queries": embeddings.n_unique_queries,
            "unique_candidates": embeddings.n_unique_candidates,
        },
    }


NTREX_NAMES = ("ntrex", "ntrex-128")


def _ntrex_setup(
    args: argparse.Namespace, languages: list[str] | None, seen: list[str] | None
) -> tuple[Any, Any]:
    """The options and the evaluation part of ``--dataset ntrex``."""
    from polyret.evaluation.ntrex import DEFAULT_LANGUAGES, NtrexEvalConfig, load_ntrex_eval

    if args.save_runs:
        raise ConfigError("--save-runs is not supported for --dataset ntrex")
    if args.candidate_text != "sentence":
        raise ConfigError("--dataset ntrex retrieves sentences: --candidate-text must be sentence")
    config = NtrexEvalConfig(
        batch_size=args.batch_size,
        seen_languages=seen,
        chunk_size=args.chunk_size,
        show_progress=not args.no_progress,
    )
    dataset = load_ntrex_eval(languages or DEFAULT_LANGUAGES, data_dir=args.data_dir)
    return config, dataset


def _ntrex_meta(dataset: Any) -> dict[str, Any]:
    """What results.json says about the NTREX-128 part evaluated."""
    from polyret.data.ntrex import SPLIT_RULE

    documents = dataset.question_articles()
    return {
        "part": "evaluation",
        "split_rule": SPLIT_RULE,
        "documents": len(set(documents.values())),
        # the clusters of significance tests (polyret.evaluation.significance)
        "question_documents": documents,
    }


def _debiased_eval(
    args: argparse.Namespace,
    calibration: Any,
    queries: Any,
    model: Any,
    dataset: Any,
    embeddings: Any,
    base: Any,
    config: Any,
    meta: dict[str, Any],
    out: Path,
) -> None:
    """Fit language centering on the calibration text and score the same embeddings again."""
    from polyret.debias.evaluate import evaluate_with_debias
    from polyret.evaluation import language_bias
    from polyret.io import write_text
    from polyret.reports.lareqa import headline_table

    start = time.perf_counter()
    result, _ = evaluate_with_debias(
        model,
        dataset,
        embeddings,
        config,
        calibration,
        method=args.debias_method,
        queries=queries,
        batch_size=config.batch_size,
    )
    sub = out / f"debiased-{args.debias_method}"
    sub.mkdir(parents=True, exist_ok=True)
    debias_meta = {
        **meta,
        "debias": {
            "source": args.debias,
            "method": args.debias_method,
            "calibration": calibration.describe(),
            "queries": None if queries is None else queries.describe(),
            "seconds": time.perf_counter() - start,
        },
    }
    _write_outputs(sub, result, debias_meta, None, language_bias(result))
    how = f"{args.debias_method}, calibration {args.debias}" + (
        f", queries {args.debias_queries}" if queries is not None else ""
    )
    print(f"\nwith language centering ({how}):")
    print(headline_table(result))
    b, d = base.summary(), result.summary()
    keys = [
        k
        for k in ("mono_map", "cross_map", "multi_map", "rank_distance", "same_lang_first")
        if k in b  # ntrex has no mono setting
    ]
    lines = [
        f"# Base vs debiased ({how})",
        "",
        f"Command: `{meta['command']}`",
        "",
        "| | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
        "| base | " + " | ".join(f"{b[k]:.4f}" for k in keys) + " |",
        f"| {args.debias_method} | " + " | ".join(f"{d[k]:.4f}" for k in keys) + " |",
        "| difference | " + " | ".join(f"{d[k] - b[k]:+.4f}" for k in keys) + " |",
        "",
        f"Full reports: `report.md` (base) and `{sub.name}/report.md` (debiased).",
        "",
    ]
    write_text(out / "comparison.md", "\n".join(lines))
    print("\n".join(lines[4:9]))


def _write_outputs(
    out: Path,
    result: Any,
    meta: dict[str, Any],
    runs_info: dict[str, Any] | None,
    bias: dict[str, Any],
) -> None:
    from polyret.io import atomic_path, write_json, write_text
    from polyret.reports.lareqa import render_lareqa_report
    from polyret.reports.plots import plot_map_heatmap, plot_rank_distance

    plots = {
        "mAP by query and candidate language": "map_heatmap.png",
        "rank distance per query language": "rank_distance.png",
    }
    model = str(meta.get("model", {}).get("spec") or "") or None
    plot_map_heatmap(result, out / "map_heatmap.png", model=model)
    plot_rank_distance(result, out / "rank_distance.png", model=model)
    with atomic_path(out / "ranks.jsonl") as tmp, tmp.open("w", encoding="utf-8") as f:
        for record in result.ranks_records():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    numbers = result.to_dict()
    del numbers["dataset"]  # meta["dataset"] names it, with files and checksums
    results = {
        **meta,
        **numbers,
        "bias": bias,
        "runs": runs_info,
        "files": {
            "report": "report.md",
            "ranks": "ranks.jsonl (per setting: query ids and the rank of every relevant candidate)",
            "plots": list(plots.values()),
        },
    }
    write_json(out / "results.json", _finite(results))
    write_text(out / "report.md", render_lareqa_report(result, meta, plots))
