"""Corpus-scale evaluation (MIRACL, BEIR-format folders): encode, search, score, report.

:class:`CorpusTask` is the evaluation task ``polyret eval`` runs for corpus datasets through
:func:`polyret.evaluate.evaluate`, as it runs LAReQA and NTREX tasks; :func:`run_corpus_eval` is
the same without centering, for library use. Per language the task encodes the corpus into
resumable shards (or reuses them), encodes the queries, searches the top k with FAISS, and scores
the run with pytrec_eval (nDCG@10, Recall@100, MRR@10). With
``multilingual_pool`` every language's queries are also run against all corpora merged (docids
and qids prefixed ``<lang>:``), with the language shares of the results.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from polyret import __version__
from polyret.configfile import check_at_least
from polyret.corpus.datasets import default_split, encode_root, load_collections, parse_dataset
from polyret.corpus.encode import EncodeConfig, EncodeResult, encode_collection, encode_queries
from polyret.corpus.index import IndexKind, SearchConfig, SearchResult, recall_against, search
from polyret.corpus.metrics import (
    MEASURES,
    PRIMARY_METRIC,
    Run,
    evaluate_run,
    language_shares,
    mean_metrics,
)
from polyret.corpus.shards import CorpusPart, VectorTransform, docids_for_rows
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
    shards = [s for part in parts for s in part.vector_shards()]
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


class VectorDebiaser(Protocol):
    """What :meth:`CorpusTask.debias` needs of a debiaser (:class:`polyret.debias.Debiaser`)."""

    def transform(self, emb: Any, *, kind: Any, lang: Any = None) -> Any: ...


@dataclass
class CorpusEncoding:
    """A corpus task's texts encoded: each language's corpus in shards on disk and its queries in
    memory. ``passage_transform`` (debiasing) is applied to the shards as they are searched."""

    corpora: dict[str, EncodeResult]  # label -> the encoded corpus (and what encoding it did)
    queries: dict[str, np.ndarray]  # label -> [n_queries, dim] float32
    query_seconds: dict[str, float]
    root: Path
    passage_transform: VectorTransform | None = None


@dataclass
class CorpusResult:
    """What :meth:`CorpusTask.score` computed: results.json's numbers (per language, the macro
    average, the pool), per-query measures and the TREC runs by label (``pool`` included)."""

    results: dict[str, Any]
    per_query: dict[str, dict[str, dict[str, float]]]
    runs: dict[str, Run]

    def summary(self) -> dict[str, float]:
        """Flat numbers: ``ndcg@10`` (macro average over languages), ``pool_ndcg@10``,
        ``pool_own_share@10`` (mean over query languages), ..."""
        out = dict(self.results["average"])
        pool = self.results.get("pool")
        if pool is not None:
            out.update({f"pool_{m}": v for m, v in pool["average"].items()})
            for cut in pool["share_cutoffs"]:
                shares = [entry[f"own_share@{cut}"] for entry in pool["languages"].values()]
                out[f"pool_own_share@{cut}"] = float(np.mean(shares))
        return out


@dataclass
class CorpusTask:
    """MIRACL or a BEIR folder as an evaluation task (:func:`polyret.evaluate.evaluate`): every
    language's corpus is encoded into resumable shards (reused when they exist), searched with
    FAISS and scored with pytrec_eval; with ``multilingual_pool`` also all corpora merged."""

    config: CorpusEvalConfig
    collections: list[CorpusCollection]

    @classmethod
    def load(cls, config: CorpusEvalConfig) -> CorpusTask:
        """The task with every collection's queries and judgments loaded (the corpora stream)."""
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError(
                "run corpus evaluation in one process; share the encoding among processes with "
                "`torchrun --nproc_per_node=N -m polyret.corpus.encode ...` first, then evaluate "
                "with the same --encode-dir"
            )
        collections = load_collections(
            config.dataset, config.languages, config.split, config.data_dir
        )
        labels = [_language_label(c) for c in collections]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"two collections share a language label: {labels}")
        if config.multilingual_pool and len(collections) < 2:
            raise ConfigError("multilingual_pool needs at least two languages")
        return cls(config, collections)

    @property
    def name(self) -> str:
        return self.config.dataset

    @property
    def languages(self) -> list[str]:
        return [_language_label(c) for c in self.collections]

    def calibration_languages(self) -> list[str]:
        """The languages centering needs text for: every corpus's (each must have one)."""
        unnamed = [c.name for c in self.collections if c.lang is None]
        if unnamed:
            raise ConfigError(
                f"centering needs each corpus's language, and {unnamed[0]} has none: give it "
                "with --languages LANG (one BEIR folder), or use a folder of per-language BEIR "
                "folders"
            )
        return self.languages

    def check_calibration(self, calibration: Any) -> None:
        """Refuse calibration text (``calibration.texts``: language -> sentences, the centering's
        sentences or real queries) that holds one of the evaluated queries."""
        evaluated = {q.text.strip() for c in self.collections for q in c.queries}
        for lang, texts in calibration.texts.items():
            found = [t for t in texts if t.strip() in evaluated]
            if found:
                raise ConfigError(
                    f"calibration text {calibration.source!r} ({lang}) holds {len(found)} of the "
                    f"queries evaluated on {self.config.dataset}, e.g. {found[0]!r}: centering "
                    "must not be fitted on them"
                )

    def encode(self, model: SentenceTransformer) -> CorpusEncoding:
        """Every corpus into shards under the encoding root (finished shards are reused) and
        every language's queries."""
        config = self.config
        root = encode_root(config.model, config.out_dir, config.encode_dir)
        encode_config = config.encode_config()
        corpora: dict[str, EncodeResult] = {}
        queries: dict[str, np.ndarray] = {}
        seconds: dict[str, float] = {}
        for label, collection in zip(self.languages, self.collections, strict=True):
            corpora[label] = encode_collection(
                model, collection, root, model_spec=config.model, config=encode_config
            )
            started = time.perf_counter()
            texts = [q.text for q in collection.queries]
            queries[label] = encode_queries(model, texts, batch_size=config.batch_size)
            seconds[label] = time.perf_counter() - started
        return CorpusEncoding(corpora, queries, seconds, root)

    def debias(self, encoding: CorpusEncoding, debiaser: VectorDebiaser) -> CorpusEncoding:
        """The same encoding with queries and passages debiased (nearest-centroid language, as
        for LAReQA); the shards on disk stay plain and are transformed as they are searched."""
        import torch

        def apply(vectors: np.ndarray, kind: str) -> np.ndarray:
            # np.array copies: a float32 shard is a read-only memory map
            emb = torch.from_numpy(np.array(vectors, dtype=np.float32))
            return debiaser.transform(emb, kind=kind).numpy()

        return replace(
            encoding,
            queries={label: apply(q, "query") for label, q in encoding.queries.items()},
            passage_transform=lambda vectors: apply(vectors, "passage"),
        )

    def score(self, encoding: CorpusEncoding) -> CorpusResult:
        """Each language's queries searched in its own corpus (and in the pool), and scored."""
        config = self.config
        languages: dict[str, Any] = {}
        per_query: dict[str, Any] = {}
        runs: dict[str, Run] = {}
        for label, collection in zip(self.languages, self.collections, strict=True):
            encoded = encoding.corpora[label]
            part = CorpusPart(encoded.corpus, transform=encoding.passage_transform)
            qids = [q.qid for q in collection.queries]
            searched = _search_and_score(
                label, encoding.queries[label], qids, [part], collection.qrels, config
            )
            runs[label] = searched.run
            per_query[label] = searched.per_query
            languages[label] = _language_record(
                collection, encoded, searched, len(qids), encoding.query_seconds[label]
            )
        results: dict[str, Any] = {
            "dataset": config.dataset,
            "split": config.split,
            "k": config.k,
            "metrics": list(MEASURES),
            "primary_metric": PRIMARY_METRIC,
            "vectors": {
                "dtype": config.dtype,
                "include_title": config.include_title,
                "root": str(encoding.root),
            },
            "ties": "score descending, then corpus position",
            "languages": languages,
            "average": _macro_average(languages),
        }
        if config.multilingual_pool:
            pool, per_query["pool"], runs["pool"] = _evaluate_pool(self, encoding)
            results["pool"] = pool
        return CorpusResult(results, per_query, runs)

    def record(
        self, result: CorpusResult, encoding: CorpusEncoding, precision: str
    ) -> dict[str, Any]:
        """results.json: the model and options evaluated with, then the result's numbers."""
        config = self.config
        fingerprint = next(iter(encoding.corpora.values())).corpus.header["model"]["fingerprint"]
        return {
            "polyret_version": __version__,
            "model": config.model,
            "model_fingerprint": fingerprint,
            "precision": precision,
            **result.results,
            "config": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
            },
        }

    def save(
        self, folder: Path, result: CorpusResult, record: dict[str, Any], *, runs: bool
    ) -> dict[str, Any]:
        """``results.json`` (``record``), ``per_query.json``, ``report.md`` and, with ``runs``,
        the TREC runs under ``runs/`` (their paths go into results.json, before ``config``).
        Each file is written atomically; the folder is not replaced whole, since it may hold the
        corpus encodings. Returns the record written."""
        folder.mkdir(parents=True, exist_ok=True)
        if runs:
            tag = f"polyret-{IndexKind(self.config.index).value}"
            paths = {}
            for label, run in result.runs.items():
                path = folder / "runs" / f"{label}.{self.config.split}.trec"
                write_run(path, run, tag=tag)
                paths[label] = str(path)
            head = {k: v for k, v in record.items() if k not in ("config", "seconds")}
            record = {**head, "runs": paths, **{k: v for k, v in record.items() if k not in head}}
        write_json(folder / "per_query.json", result.per_query)
        write_json(folder / "results.json", record)
        from polyret.reports.corpus import render_corpus_report

        write_text(folder / "report.md", render_corpus_report(record))
        logger.info("wrote %s and report.md", folder / "results.json")
        return record


def run_corpus_eval(config: CorpusEvalConfig) -> dict[str, Any]:
    """Evaluate ``config.model`` on every language of ``config.dataset``; write results when
    ``out_dir`` is set. ``polyret eval`` runs the same task through :func:`polyret.evaluate.evaluate`
    (which adds centering).

    Returns the results dict also written to ``results.json``: per language (metrics, counts, encoding
    and search statistics), the macro average over languages, and the pool when requested.
    """
    started = time.perf_counter()
    task = CorpusTask.load(config)
    from polyret.models import load_model

    model: SentenceTransformer = load_model(config.model, device=config.device)
    precision = set_precision(model, config.precision)
    encoding = task.encode(model)
    result = task.score(encoding)
    record = task.record(result, encoding, precision)
    record["seconds"] = round(time.perf_counter() - started, 3)
    if config.out_dir is not None:
        record = task.save(config.out_dir, result, record, runs=config.save_runs)
    return record


def _language_record(
    collection: CorpusCollection,
    encoding: EncodeResult,
    searched: _Searched,
    num_queries: int,
    q_seconds: float,
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
    task: CorpusTask, encoding: CorpusEncoding
) -> tuple[dict[str, Any], dict[str, dict[str, float]], Run]:
    """All languages' queries against all corpora merged; ids become ``<lang>:<id>``."""
    labels = task.languages
    parts: list[CorpusPart] = []
    blocks: list[tuple[str, int, int]] = []
    offset = 0
    for label in labels:
        corpus = encoding.corpora[label].corpus
        parts.append(
            CorpusPart(corpus, offset, f"{label}{POOL_SEPARATOR}", encoding.passage_transform)
        )
        blocks.append((label, offset, corpus.num_docs))
        offset += corpus.num_docs
    qids: list[str] = []
    query_langs: list[str] = []
    relevant_langs: list[list[str]] = []
    qrels: dict[str, dict[str, int]] = {}
    for label, collection in zip(labels, task.collections, strict=True):
        for query in collection.queries:
            qid = f"{label}{POOL_SEPARATOR}{query.qid}"
            qids.append(qid)
            query_langs.append(label)
            judged = collection.qrels.get(query.qid, {})
            qrels[qid] = {f"{label}{POOL_SEPARATOR}{d}": rel for d, rel in judged.items()}
            relevant_langs.append([label for rel in judged.values() if rel > 0])
    queries = np.concatenate([encoding.queries[label] for label in labels], axis=0)
    config = task.config
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


__all__ = ["CorpusEncoding", "CorpusEvalConfig", "CorpusResult", "CorpusTask", "run_corpus_eval"]
