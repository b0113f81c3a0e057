"""Corpus retrieval metrics through pytrec_eval, and language shares in a multilingual pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from polyret.data.trec import trec_order

Run = dict[str, dict[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

# The metrics reported by default; any name parse_metric accepts for TREC_MEASURES works.
MEASURES = ("ndcg@10", "recall@100", "mrr@10")
PRIMARY_METRIC = "ndcg@10"


# Base metric name (polyret.evaluation.metrics) -> the trec_eval measure for cutoff k:
# (measure, its key in pytrec_eval's output, rank cutoff applied to the run first).
TREC_MEASURES = {
    "ap": lambda k: ("map", "map", None),
    "ndcg": lambda k: (f"ndcg_cut.{k}", f"ndcg_cut_{k}", None),
    "recall": lambda k: (f"recall.{k}", f"recall_{k}", None),
    # trec_eval's recip_rank has no cutoff: MRR@k is recip_rank over the run cut to k documents.
    "mrr": lambda k: ("recip_rank", "recip_rank", k),
    "accuracy": lambda k: (f"success.{k}", f"success_{k}", None),
}


def trec_measure(name: str) -> tuple[str, str, int | None]:
    """``"ndcg@10"`` -> ``("ndcg_cut.10", "ndcg_cut_10", None)``; ConfigError for other names."""
    from polyret.evaluation.metrics import parse_metric

    base, k = parse_metric(name, known=TREC_MEASURES)
    return TREC_MEASURES[base](k)


def truncate_run(run: Run, depth: int) -> Run:
    """The top ``depth`` documents of each query, chosen in trec_eval's order."""
    return {qid: dict(trec_order(ranking.items())[:depth]) for qid, ranking in run.items()}


def evaluate_run(
    qrels: Qrels, run: Run, metrics: Sequence[str] = tuple(MEASURES)
) -> dict[str, dict[str, float]]:
    """Per-query metrics ``{qid: {metric: value}}`` for the queries of ``run`` that have judgments."""
    import pytrec_eval

    measures = {m: trec_measure(m) for m in metrics}
    qrels_plain = {qid: dict(docs) for qid, docs in qrels.items()}
    by_cutoff: dict[int | None, list[str]] = {}
    for metric, (_, _, cutoff) in measures.items():
        by_cutoff.setdefault(cutoff, []).append(metric)
    out: dict[str, dict[str, float]] = {}
    for cutoff, names in by_cutoff.items():
        evaluator = pytrec_eval.RelevanceEvaluator(qrels_plain, {measures[m][0] for m in names})
        results = evaluator.evaluate(run if cutoff is None else truncate_run(run, cutoff))
        for qid, values in results.items():
            row = out.setdefault(qid, {})
            for name in names:
                row[name] = float(values[measures[name][1]])
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over queries (trec_eval's ``all`` line)."""
    if not per_query:
        return {}
    names = next(iter(per_query.values())).keys()
    return {name: float(np.mean([row[name] for row in per_query.values()])) for name in names}


def language_shares(
    rows: np.ndarray,
    query_langs: Sequence[str],
    blocks: Sequence[tuple[str, int, int]],
    relevant_langs: Sequence[Sequence[str]],
    cutoffs: Sequence[int] = (10, 100),
) -> dict[str, dict[str, object]]:
    """Language bias in a pool whose relevance is not parallel (each query has its own relevant set).

    ``rows``: (num_queries, k) pooled rows (-1 = none); ``blocks``: the pool as contiguous
    ``(language, first row, count)`` blocks in row order; ``relevant_langs[i]``: the languages of
    query i's relevant documents. Per query language L:

    - ``own_share@c``: mean share of the top-c results written in L;
    - ``relevant_own_share``: mean share of the query's relevant documents written in L (1.0 when
      relevance is monolingual, as in MIRACL): the share a ranking driven by relevance alone would
      approach at the top;
    - ``pool_share``: share of the pool written in L (what a ranking blind to the query would give);
    - ``languages@c``: mean share of the top-c results in each language.
    """
    langs = [lang for lang, _, _ in blocks]
    starts = np.array([start for _, start, _ in blocks], dtype=np.int64)
    sizes = np.array([count for _, _, count in blocks], dtype=np.float64)
    out: dict[str, dict[str, object]] = {}
    for lang in sorted(set(query_langs)):
        members = [i for i, q in enumerate(query_langs) if q == lang]
        own = langs.index(lang)
        entry: dict[str, object] = {"queries": len(members)}
        for cutoff in cutoffs:
            top = rows[members, :cutoff]
            valid = top >= 0
            found = np.where(valid, np.searchsorted(starts, top, side="right") - 1, -1)
            counts = np.stack([(found == j).sum(axis=1) for j in range(len(langs))], axis=1)
            totals = np.maximum(valid.sum(axis=1), 1)[:, None]
            shares = (counts / totals).mean(axis=0)
            entry[f"own_share@{cutoff}"] = float(shares[own])
            entry[f"languages@{cutoff}"] = {langs[j]: float(shares[j]) for j in range(len(langs))}
        rel_shares = [
            sum(1 for r in relevant_langs[i] if r == lang) / len(relevant_langs[i])
            for i in members
            if relevant_langs[i]
        ]
        entry["relevant_own_share"] = float(np.mean(rel_shares)) if rel_shares else None
        entry["pool_share"] = float(sizes[own] / max(sizes.sum(), 1.0))
        out[lang] = entry
    return out


__all__ = [
    "MEASURES",
    "PRIMARY_METRIC",
    "TREC_MEASURES",
    "evaluate_run",
    "language_shares",
    "mean_metrics",
    "trec_measure",
    "truncate_run",
]
