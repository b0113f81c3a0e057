"""Corpus-scale evaluation (MIRACL, BEIR-format folders): encode, search, score, report.

``run_corpus_eval`` is what ``polyret eval`` calls for corpus datasets. Per language it encodes
the corpus into resumable shards (or reuses them), encodes the queries, searches the top k with
FAISS, and scores the run with pytrec_eval (nDCG@10, Recall@100, MRR@10). With
``multilingual_pool`` every language's queries are also run against all corpora merged (docids
and qids prefixed ``<lang>:``), with the language shares of the results.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyret import __version__
from polyret.configfile import check_at_least
from polyret.corpus.datasets import default_split, encode_root, load_collections, parse_dataset
from polyret.corpus.encode import EncodeConfig, encode_collection, encode_queries
from polyret.corpus.index import IndexKind, SearchConfig, SearchResult, recall_against, search
from polyret.corpus.metrics import (
    MEASURES,
    PRIMARY_METRIC,
    Run,
    evaluate_run,
    language_shares,
    mean_metrics,
)
from polyret.corpus.shards import CorpusPart, EncodedCorpus, docids_for_rows
from polyret.data.beir import CorpusCollection
from polyret.data.trec import write_run
from polyret.errors import ConfigError
from polyret.io import write_json, write_text
from polyret.precision import DEFAULT_PRECISION, parse_precision, set_precision

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

POOL_SEPARATOR = ":"


@dataclass
class CorpusEvalConfig:
    """Options of a corpus evaluation (``polyret eval --dataset miracl|beir:PATH``)."""

    model: str
    dataset: str  # "miracl" or "beir:PATH"
    languages: list[str] | None = None  # None: every language found
    data_dir: str | None = None
    out_dir: Path | None = None  # results.json, report.md, per_query.json, runs/
    batch_size: int = 64
    save_runs: bool = False
    device: str | None = None
    split: str | None = None  # None: "dev" for MIRACL, "test" for BEIR
    k: int = 100
    index: str = "flat"  # flat (exact) | ivf | hnsw
    dtype: str = "float16"
    shard_size: int = 50_000
    multilingual_pool: bool = False
    encode_dir: Path | None = (
        None  # None: <out_dir>/encodings/<model>, else <cache>/encodings/<model>
    )
    max_seq_length: int | None = None
    include_title: bool = True
    nlist: int | None = None
    nprobe: int = 16
    hnsw_m: int = 32
    ef_search: int = 128
    recall_queries: int = 1000  # approximate indexes: queries re-searched exactly to report recall
    show_progress: bool = True
    precision: str = DEFAULT_PRECISION  # auto | fp32 | bf16 | fp16 (polyret.precision)

    def __post_init__(self) -> None:
        parse_dataset(self.dataset)
        if self.split is None:
            self.split = default_split(self.dataset)
        if self.out_dir is not None:
            self.out_dir = Path(self.out_dir)
        if self.encode_dir is not None:
            self.encode_dir = Path(self.encode_dir)
        check_at_least(self, "k", "recall_queries", flags=False)
        self.precision = parse_precision(self.precision).value
        self.search_config()  # validates the index options
        self.encode_config()  # and the encoding options (dtype, shard_size, ...)

    def encode_config(self) -> EncodeConfig:
        """The encoding options, each field of :class:`EncodeConfig` taken from this config."""
        return EncodeConfig(**{f.name: getattr(self, f.name) for f in fields(EncodeConfig)})

    def search_config(self, index: str | None = None) -> SearchConfig:
        gpu = False if self.device is not None and not str(self.device).startswith("cuda") else None
        return SearchConfig(
            k=self.k,
            index=index or self.index,
            nlist=self.nlist,
            nprobe=self.nprobe,
            hnsw_m=self.hnsw_m,
            ef_search=self.ef_search,
            gpu=gpu,
        )


@dataclass
class _Searched:
    """One search's outputs, kept for the pool and for writing."""

    run: Run
    per_query: dict[str, dict[str, float]]
    result: SearchResult
    recall: float | None


def _search_and_score(
    name: str,
    queries: np.ndarray,
    qids: list[str],
    parts: list[CorpusPart],
    qrels: dict[str, dict[str, int]],
    config: CorpusEvalConfig,
) -> _Searched:
    shards = [s for part in parts for s in part.corpus.vector_shards(part.offset)]
    result = search(queries, shards, config.search_config())
    recall = None
    if IndexKind(config.index) is not IndexKind.FLAT:
        rng = np.random.default_rng(0)
        sample = np.sort(
            rng.choice(len(qids), size=min(len(qids), config.recall_queries), replace=False)
        )
        exact = search(queries[sample], shards, config.search_config(index="flat"))
        recall = recall_against(result.rows[sample], exact.rows)
        logger.info(
            "%s: %s recall@%d against exact search = %.4f", name, result.index, config.k, recall
        )
    docids = docids_for_rows(parts, result.rows)
    run: Run = {}
    for qid, ids, scores in zip(qids, docids, result.scores, strict=True):
        run[qid] = {d: float(s) for d, s in zip(ids, scores, strict=True) if d is not None}
    per_query = evaluate_run(qrels, run)
    logger.info(
        "%s: %s = %.4f over %d queries (search %.1f s on %s)",
        name, PRIMARY_METRIC, mean_metrics(per_query).get(PRIMARY_METRIC, float("nan")), len(per_query),
        result.seconds, result.device,
    )  # fmt: skip
    return _Searched(run, per_query, result, recall)


def _search_summary(
    searched: _Searched, num_queries: int, seconds_queries: float | None
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "index": searched.result.index,
        "params": searched.result.params,
        "device": searched.result.device,
        "seconds": round(searched.result.seconds, 3),
        "query_encode_seconds": None if seconds_queries is None else round(seconds_queries, 3),
        "queries_per_s": round(num_queries / searched.result.seconds, 1)
        if searched.result.seconds
        else None,
    }
    if searched.recall is not None:
        summary["recall_vs_exact"] = searched.recall
    return summary


def _language_label(collection: CorpusCollection) -> str:
    return collection.lang or collection.name


def run_corpus_eval(config: CorpusEvalConfig) -> dict[str, Any]:
    """Evaluate ``config.model`` on every language of ``config.dataset``; write results when ``out_dir`` is set.

    Returns the results dict also written to ``results.json``: per language (metrics, counts, encoding
    and search statistics), the macro average over languages, and the pool when requested.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            "run corpus evaluation in one process; share the encoding among processes with "
            "`torchrun --nproc_per_node=N -m polyret.corpus.encode ...` first, then evaluate with the "
            "same --encode-dir"
        )
    started = time.perf_counter()
    collections = load_collections(config.dataset, config.languages, config.split, config.data_dir)
    labels = [_language_label(c) for c in collections]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"two collections share a language label: {labels}")
    if config.multilingual_pool and len(collections) < 2:
        raise ConfigError("multilingual_pool needs at least two languages")
    from polyret.models import load_model

    model: SentenceTransformer = load_model(config.model, device=config.device)
    precision = set_precision(model, config.precision)
    root = encode_root(config.model, config.out_dir, config.encode_dir)
    encode_config = config.encode_config()

    languages: dict[str, Any] = {}
    per_query_all: dict[str, Any] = {}
    run_paths: dict[str, str | None] = {}
    encoded: dict[str, EncodedCorpus] = {}
    query_vectors: dict[str, np.ndarray] = {}
    for label, collection in zip(labels, collections, strict=True):
        encoding = encode_collection(
            model, collection, root, model_spec=config.model, config=encode_config
        )
        encoded[label] = encoding.corpus
        q_started = time.perf_counter()
        texts = [q.text for q in collection.queries]
        query_vectors[label] = encode_queries(model, texts, batch_size=config.batch_size)
        q_seconds = time.perf_counter() - q_started
        qids = [q.qid for q in collection.queries]
        searched = _search_and_score(
            label,
            query_vectors[label],
            qids,
            [CorpusPart(encoding.corpus)],
            collection.qrels,
            config,
        )
        run_paths[label] = _save_run(config, label, searched.run)
        per_query_all[label] = searched.per_query
        languages[label] = _language_record(collection, encoding, searched, len(qids), q_seconds)

    results: dict[str, Any] = {
        "polyret_version": __version__,
        "model": config.model,
        "model_fingerprint": next(iter(encoded.values())).header["model"]["fingerprint"],
        "precision": precision,
        "dataset": config.dataset,
        "split": config.split,
        "k": config.k,
        "metrics": list(MEASURES),
        "primary_metric": PRIMARY_METRIC,
        "vectors": {
            "dtype": config.dtype,
            "include_title": config.include_title,
            "root": str(root),
        },
        "ties": "score descending, then corpus position",
        "languages": languages,
        "average": _macro_average(languages),
    }
    if config.multilingual_pool:
        pool, pool_per_query, pool_run = _evaluate_pool(
            collections, labels, encoded, query_vectors, config
        )
        results["pool"] = pool
        per_query_all["pool"] = pool_per_query
        run_paths["pool"] = _save_run(config, "pool", pool_run)
    if config.save_runs and config.out_dir is not None:
        results["runs"] = run_paths
    results["config"] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
    }
    results["seconds"] = round(time.perf_counter() - started, 3)
    if config.out_dir is not None:
        _write_outputs(config.out_dir, results, per_query_all)
    return results


def _language_record(
    collection: Any, encoding: Any, searched: Any, num_queries: int, q_seconds: float
) -> dict[str, Any]:
    """results.json's entry for one language: counts, metrics, encoding and search figures."""
    return {
        "collection": collection.name,
        "num_queries": num_queries,
        "num_docs": encoding.corpus.num_docs,
        "metrics": mean_metrics(searched.per_query),
        "encode": {
            "dir": str(encoding.corpus.root),
            "encoded_docs": encoding.encoded_docs,
            "reused_shards": len(encoding.reused_shards),
            "shards": len(encoding.corpus.shards),
            "seconds": round(encoding.seconds, 3),
            "docs_per_s": round(encoding.docs_per_s, 1) if encoding.docs_per_s else None,
        },
        "search": _search_summary(searched, num_queries, q_seconds),
    }


def _macro_average(languages: dict[str, Any]) -> dict[str, float]:
    names = list(MEASURES)
    if not languages:
        return {}
    return {m: float(np.mean([lang["metrics"][m] for lang in languages.values()])) for m in names}


def _evaluate_pool(
    collections: list[CorpusCollection],
    labels: list[str],
    encoded: dict[str, EncodedCorpus],
    query_vectors: dict[str, np.ndarray],
    config: CorpusEvalConfig,
) -> tuple[dict[str, Any], dict[str, dict[str, float]], Run]:
    """All languages' queries against all corpora merged; ids become ``<lang>:<id>``."""
    parts: list[CorpusPart] = []
    blocks: list[tuple[str, int, int]] = []
    offset = 0
    for label in labels:
        corpus = encoded[label]
        parts.append(CorpusPart(corpus, offset, f"{label}{POOL_SEPARATOR}"))
        blocks.append((label, offset, corpus.num_docs))
        offset += corpus.num_docs
    qids: list[str] = []
    query_langs: list[str] = []
    relevant_langs: list[list[str]] = []
    qrels: dict[str, dict[str, int]] = {}
    for label, collection in zip(labels, collections, strict=True):
        for query in collection.queries:
            qid = f"{label}{POOL_SEPARATOR}{query.qid}"
            qids.append(qid)
            query_langs.append(label)
            judged = collection.qrels.get(query.qid, {})
            qrels[qid] = {f"{label}{POOL_SEPARATOR}{d}": rel for d, rel in judged.items()}
            relevant_langs.append([label for rel in judged.values() if rel > 0])
    queries = np.concatenate([query_vectors[label] for label in labels], axis=0)
    searched = _search_and_score("pool", queries, qids, parts, qrels, config)
    cutoffs = sorted({min(config.k, 10), min(config.k, 100)})
    shares = language_shares(searched.result.rows, query_langs, blocks, relevant_langs, cutoffs)
    per_language: dict[str, Any] = {}
    for label in labels:
        mine = {
            qid: row
            for qid, row in searched.per_query.items()
            if qid.startswith(f"{label}{POOL_SEPARATOR}")
        }
        per_language[label] = {"metrics": mean_metrics(mine), **shares.get(label, {})}
    pool = {
        "num_docs": offset,
        "num_queries": len(qids),
        "languages": per_language,
        "average": _macro_average(per_language),
        "search": _search_summary(searched, len(qids), None),
        "id_format": f"<lang>{POOL_SEPARATOR}<id>",
        "share_cutoffs": cutoffs,
    }
    return pool, searched.per_query, searched.run


def _save_run(config: CorpusEvalConfig, label: str, run: Run) -> str | None:
    """Write one TREC run under ``<out_dir>/runs/`` when runs are kept; its path, else None."""
    if not config.save_runs or config.out_dir is None:
        return None
    path = Path(config.out_dir) / "runs" / f"{label}.{config.split}.trec"
    write_run(path, run, tag=f"polyret-{IndexKind(config.index).value}")
    return str(path)


def _write_outputs(out: Path, results: dict[str, Any], per_query: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "per_query.json", per_query)
    write_json(out / "results.json", results)
    from polyret.reports.corpus import render_corpus_report

    write_text(out / "report.md", render_corpus_report(results))
    logger.info("wrote %s and report.md", out / "results.json")


__all__ = ["CorpusEvalConfig", "run_corpus_eval"]
