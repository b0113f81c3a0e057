"""``polyret eval``: evaluate a model on XQuAD-R / MLQA-R in every setting, with language bias.

``--dataset ntrex`` scores out-of-domain sentence retrieval on NTREX-128's evaluation part
(:mod:`polyret.evaluation.ntrex`) with the same outputs. MIRACL and BEIR (``--dataset miracl`` or
``beir:PATH``) are corpus tasks (:class:`polyret.corpus.CorpusTask`): encoded shards, FAISS, TREC
measures. Every task runs through :func:`polyret.evaluate.evaluate`, so ``--debias`` scores any of
them a second time with language centering. The options are
:class:`polyret.evaluate.EvalOptions` (flags, or a YAML file with ``--config``).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from polyret.cli.parser import ArgumentParser, parse_config_flags, print_config
from polyret.configfile import add_option_arguments
from polyret.errors import ConfigError
from polyret.evaluate import CenteringOptions, CorpusOptions, EvalOptions
from polyret.flags import add_no_progress
from polyret.io import check_output_dir, write_text

logger = logging.getLogger(__name__)

# Flags about this invocation, not evaluation options.
RUN_FLAGS = ("config", "print_config", "no_progress")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret eval",
        description=(
            "Evaluate a retriever on XQuAD-R or MLQA-R: monolingual, cross-lingual (every ordered "
            "language pair, over shared question ids) and multilingual (one pool of all languages), "
            "with mAP, nDCG@10, Recall@k and language bias. Every text is encoded once. Options "
            "come from --config FILE.yaml and/or flags (flags win)."
        ),
    )
    p.add_argument(
        "--config",
        default=None,
        help="YAML file with any of the options below (corpus and centering options at the top "
        "level or under corpus: / centering:)",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved options (YAML, loadable with --config) and exit",
    )
    add_option_arguments(p, EvalOptions, groups=False)  # then each group's, under its title
    add_no_progress(p)
    add_option_arguments(
        p.add_argument_group("corpus evaluation (--dataset miracl or beir:PATH)"), CorpusOptions
    )
    add_option_arguments(
        p.add_argument_group("language centering (the model also scored debiased)"),
        CenteringOptions,
    )
    return p


def parse_options(argv: list[str]) -> tuple[dict[str, Any], EvalOptions]:
    """(this invocation's flags, the evaluation options) from the command line (and --config)."""
    run, opts = parse_config_flags(build_parser(), EvalOptions, argv, RUN_FLAGS)
    opts.show_progress = not run["no_progress"]
    return run, opts


def main(argv: list[str]) -> int:
    run, opts = parse_options(argv)
    if run["print_config"]:
        print_config(opts)
        return 0
    if opts.out is not None:
        check_output_dir(opts.out, overwrite=opts.overwrite)
    _check_dataset_name(str(opts.dataset))
    from polyret.models import resolve_model

    resolved = resolve_model(opts.model)  # a bad model is reported before a missing dataset
    if opts.is_corpus:
        return _corpus_eval(opts, argv)
    return _lareqa_eval(opts, argv, resolved)


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


def _corpus_eval(opts: EvalOptions, argv: list[str]) -> int:
    try:
        from polyret.corpus.evaluate import CorpusEvalConfig, CorpusTask
    except ImportError as exc:
        raise ConfigError(
            f"--dataset {opts.dataset} needs the corpus evaluator (polyret.corpus.evaluate), "
            f"which cannot be imported: {exc}"
        ) from None
    from polyret.evaluate import environment, evaluate
    from polyret.models import load_model
    from polyret.precision import set_precision

    start = time.perf_counter()
    shared = ("model", "languages", "data_dir", "batch_size", "save_runs", "device", "precision")
    config = CorpusEvalConfig(
        dataset=str(opts.dataset),
        out_dir=opts.out,
        show_progress=opts.show_progress,
        **{name: getattr(opts, name) for name in shared},
        **asdict(opts.corpus),  # --split, --k, --index, ...: the same names in both
    )
    task = CorpusTask.load(config)
    centering = _centering(opts, task)  # the calibration text is read before the long encoding
    model = load_model(config.model, device=config.device)
    precision = set_precision(model, config.precision)
    loaded = time.perf_counter() - start
    ev = evaluate(model, task, centering=centering)
    command = "polyret eval " + shlex.join(argv)
    seconds = loaded + ev.seconds  # to the plain result (without fitting and searching centered)
    record = {
        **task.record(ev.result, ev.embeddings, precision),
        "environment": environment(),
        "command": command,
        "seconds": round(seconds, 3),
    }
    print(_corpus_table(ev.result.summary()))
    if opts.out is not None:
        _remove_earlier_outputs(opts.out)
        task.save(opts.out, ev.result, record, runs=opts.save_runs)
        print(f"\nwrote {opts.out}/results.json, report.md, per_query.json")
    if ev.debiased is not None:
        summaries = ev.result.summary(), ev.debiased.summary()
        print(f"\nwith language centering ({_how(opts, centering)}):")
        print(_corpus_table(summaries[1]))
        lines = _comparison(opts, *summaries, centering, command)
        if opts.out is not None:
            folder = opts.out / f"debiased-{opts.centering.debias_method.value}"
            debiased = {
                **task.record(ev.debiased, ev.embeddings, precision),
                "environment": record["environment"],
                "command": command,
                "seconds": round(seconds + ev.seconds_debiased, 3),
                "debias": _debias_record(opts, centering, ev.seconds_debiased),
            }
            task.save(folder, ev.debiased, debiased, runs=opts.save_runs)
            write_text(opts.out / "comparison.md", "\n".join(lines))
    return 0


def _remove_earlier_outputs(out: Path) -> None:
    """What an earlier corpus evaluation wrote into ``out`` beside its results.json and this one
    may not write again (centered results, the comparison, runs); the encodings stay."""
    import shutil

    for path in [out / "comparison.md", out / "runs", *out.glob("debiased-*")]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _corpus_table(summary: dict[str, float]) -> str:
    """The corpus task's headline numbers, one per line."""
    return "\n".join(f"{name:>22}  {value:.4f}" for name, value in summary.items())


def _lareqa_eval(opts: EvalOptions, argv: list[str], resolved: Any) -> int:
    from polyret.evaluate import evaluate, save_evaluation
    from polyret.models import load_model
    from polyret.precision import set_precision
    from polyret.reports.lareqa import headline_table

    start = time.perf_counter()
    task = _task(opts)
    centering = _centering(opts, task)  # the calibration text is read before the long encoding
    t_data = time.perf_counter()
    model = load_model(resolved, device=opts.device)
    precision = set_precision(model, opts.precision)  # also for the debiasing calibration
    t_model = time.perf_counter()
    dataset = task.dataset
    logger.info(
        "%s: %d languages, %d questions, %d candidates", dataset.name, len(dataset.langs),
        dataset.n_questions, dataset.n_candidates,
    )  # fmt: skip
    ev = evaluate(model, task, centering=centering)
    result = ev.result
    assert result is not None
    timings = {
        "load_data": t_data - start,
        "load_model": t_model - t_data,
        "encode": result.timings["encode"],
        "score": result.timings["score"],
    }
    print(headline_table(result))
    meta = _eval_meta(opts, argv, resolved, task, ev.embeddings, model, precision)
    if opts.out is not None:
        out: Path = opts.out
        timings["total"] = time.perf_counter() - start
        save_evaluation(
            out,
            result,
            {**meta, "timings": timings, "runs": None},
            report=True,
            extra_files=_runs_writer(opts, task, ev.embeddings, timings)
            if opts.save_runs
            else None,
        )
        print(
            f"\nwrote {out}/results.json, report.md, ranks.jsonl, plots"
            + (", trec/" if opts.save_runs else "")
        )
    if ev.debiased is not None:
        _debiased_outputs(opts, result, ev.debiased, ev.seconds_debiased, centering, meta)
    return 0


def _task(opts: EvalOptions) -> Any:
    """The evaluation task of ``--dataset``, its data loaded (``--articles`` applied)."""
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation import LareqaEvalConfig, NtrexEvalConfig
    from polyret.evaluation.ntrex import DEFAULT_LANGUAGES, load_ntrex_eval
    from polyret.evaluation.tasks import EvalTask, LareqaTask, NtrexTask

    task: EvalTask
    scoring = {  # the ScoringOptions both datasets take
        "batch_size": opts.batch_size,
        "seen_languages": opts.seen_languages,
        "chunk_size": opts.chunk_size,
        "show_progress": opts.show_progress,
    }
    if opts.dataset in NTREX_NAMES:
        if opts.save_runs:
            raise ConfigError("--save-runs is not supported for --dataset ntrex")
        if opts.candidate_text != "sentence":
            raise ConfigError(
                "--dataset ntrex retrieves sentences: --candidate-text must be sentence"
            )
        dataset = load_ntrex_eval(opts.languages or DEFAULT_LANGUAGES, data_dir=opts.data_dir)
        task = NtrexTask(dataset, NtrexEvalConfig(**scoring))
    else:
        lareqa = LareqaEvalConfig(**scoring, candidate_text=opts.candidate_text)
        task = LareqaTask(
            load_lareqa(str(opts.dataset), opts.languages, data_dir=opts.data_dir), lareqa
        )
    if opts.articles is not None:  # NTREX-128: documents
        task.dataset = task.dataset.select_articles(opts.articles)
    return task


def _centering(opts: EvalOptions, task: Any) -> Any:
    """``--debias`` (with ``--debias-queries``) as a :class:`polyret.evaluate.Centering`, its
    text read and checked; None without ``--debias``."""
    if not opts.centering.debias:
        return None
    from polyret.debias import load_calibration, load_queries
    from polyret.evaluate import Centering
    from polyret.evaluation.tasks import EvalTask

    langs = task.calibration_languages()
    calibration = load_calibration(
        opts.centering.debias,
        languages=langs,
        sentences=opts.centering.debias_sentences,
        data_dir=opts.data_dir,
    )
    task.check_calibration(calibration)
    queries = None
    if opts.centering.debias_queries:
        queries = load_queries(
            opts.centering.debias_queries,
            languages=langs,
            sentences=opts.centering.debias_sentences,
            data_dir=opts.data_dir,
            evaluated=task.dataset if isinstance(task, EvalTask) else None,
        )
        task.check_calibration(queries)
    return Centering(calibration, opts.centering.debias_method, queries, batch_size=opts.batch_size)


def _runs_writer(opts: EvalOptions, task: Any, embeddings: Any, timings: dict[str, float]) -> Any:
    """What ``--save-runs`` adds to the output folder: TREC runs and qrels under ``trec/``
    (their time goes into ``timings``)."""
    from polyret.evaluation import write_lareqa_runs

    def write(folder: Path) -> dict[str, Any]:
        started = time.perf_counter()
        depth = None if opts.run_depth == 0 else opts.run_depth
        runs = write_lareqa_runs(
            task.dataset, embeddings, folder / "trec", depth=depth, chunk_size=opts.chunk_size
        )
        timings["runs"] = time.perf_counter() - started
        return {"runs": runs}

    return write


def _eval_meta(
    opts: EvalOptions,
    argv: list[str],
    resolved: Any,
    task: Any,
    embeddings: Any,
    model: Any,
    precision: str,
) -> dict[str, Any]:
    """results.json's record of what was evaluated, how, and with which data (no timings)."""
    from polyret import __version__
    from polyret.evaluate import environment

    options = task.options
    meta = {
        "polyret_version": __version__,
        "environment": environment(),
        "command": "polyret eval " + shlex.join(argv),
        "model": {**resolved.to_dict(), "embedding_dim": embeddings.dim},
        "dataset": task.describe(),
        "options": {
            "candidate_text": options.candidate_text,
            "batch_size": options.batch_size,
            "chunk_size": options.chunk_size,
            "device": opts.device or str(getattr(model, "device", "")),
            "precision": precision,
            "ks": list(options.ks),
            "ndcg_k": options.ndcg_k,
            "seen_languages": opts.seen_languages,
            "save_runs": opts.save_runs,
            "articles": opts.articles,  # None: every article
        },
        "encoding": {
            "unique_queries": embeddings.n_unique_queries,
            "unique_candidates": embeddings.n_unique_candidates,
        },
    }
    if task.protocol() is not None:
        meta["protocol"] = task.protocol()
    return meta


NTREX_NAMES = ("ntrex", "ntrex-128")


def _debiased_outputs(
    opts: EvalOptions,
    base: Any,
    result: Any,
    seconds: float,
    centering: Any,
    meta: dict[str, Any],
) -> None:
    """Print the debiased scores beside the plain ones; with ``--output-dir``, save them in
    ``debiased-<method>/`` and the comparison in ``comparison.md``."""
    from polyret.evaluate import save_evaluation
    from polyret.reports.lareqa import headline_table

    print(f"\nwith language centering ({_how(opts, centering)}):")
    print(headline_table(result))
    b, d = base.summary(), result.summary()
    keys = [  # ntrex has no mono setting
        k
        for k in ("mono_map", "cross_map", "multi_map", "rank_distance", "same_lang_first")
        if k in b
    ]
    lines = _comparison(opts, {k: b[k] for k in keys}, d, centering, meta["command"])
    if opts.out is None:
        return
    sub = f"debiased-{opts.centering.debias_method.value}"
    record = {**meta, "debias": _debias_record(opts, centering, seconds)}
    save_evaluation(opts.out / sub, result, record, report=True)
    write_text(opts.out / "comparison.md", "\n".join(lines))


def _debias_record(opts: EvalOptions, centering: Any, seconds: float) -> dict[str, Any]:
    """results.json's record of the centering of a debiased result."""
    return {"source": opts.centering.debias, **centering.describe(), "seconds": seconds}


def _comparison(
    opts: EvalOptions,
    base: dict[str, float],
    debiased: dict[str, float],
    centering: Any,
    command: str,
) -> list[str]:
    """``comparison.md``: the numbers of ``base`` (their keys, in order) beside the debiased
    ones and the difference; its table is also printed."""
    method = opts.centering.debias_method.value
    keys = list(base)
    lines = [
        f"# Base vs debiased ({_how(opts, centering)})",
        "",
        f"Command: `{command}`",
        "",
        "| | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
        "| base | " + " | ".join(f"{base[k]:.4f}" for k in keys) + " |",
        f"| {method} | " + " | ".join(f"{debiased[k]:.4f}" for k in keys) + " |",
        "| difference | " + " | ".join(f"{debiased[k] - base[k]:+.4f}" for k in keys) + " |",
        "",
        f"Full reports: `report.md` (base) and `debiased-{method}/report.md` (debiased).",
        "",
    ]
    print("\n".join(lines[4:9]))
    return lines


def _how(opts: EvalOptions, centering: Any) -> str:
    """The centering in words: method, calibration source and query source."""
    return f"{opts.centering.debias_method.value}, calibration {opts.centering.debias}" + (
        f", queries {opts.centering.debias_queries}" if centering.queries is not None else ""
    )
