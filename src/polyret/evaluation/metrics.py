"""Per-query retrieval metrics computed from the ranks of the relevant candidates.

Every function takes ``ranks``: an integer array ``[n_queries, n_slots]`` of
1-based ranks of each query's relevant candidates in the full ranking of the
pool, with 0 in slots that hold no relevant candidate (a multilingual query
whose id is missing in a language). Relevance is binary. The ranking is the
full pool, so the formulas are exactly trec_eval's ``map``, ``ndcg_cut_k``
and ``recall_k`` (tested against pytrec_eval).

These are hand-written rather than calling pytrec_eval because trec_eval needs
every (query, candidate) score as a Python dict: 13,090 x 13,014 entries for
XQuAD-R's multilingual setting alone. Ranks are enough and are computed on
the score matrices by counting (see :mod:`polyret.evaluation.lareqa`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

import numpy as np

from polyret.errors import ConfigError

__all__ = [
    "METRICS",
    "accuracy_at_k",
    "average_precision",
    "metric_function",
    "ndcg_at_k",
    "parse_metric",
    "rank_distance",
    "recall_at_k",
    "reciprocal_rank_at_k",
    "same_language_first",
]


def _sorted_ranks(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks sorted ascending per row with absent slots (0) moved to the end; and their count."""
    ranks = np.asarray(ranks, dtype=np.int64)
    if ranks.ndim != 2:
        raise ValueError(f"ranks must be [n_queries, n_slots], got shape {ranks.shape}")
    big = np.iinfo(np.int64).max
    ordered = np.sort(np.where(ranks > 0, ranks, big), axis=1)
    n_rel = (ranks > 0).sum(axis=1)
    return ordered, n_rel


def average_precision(ranks: np.ndarray) -> np.ndarray:
    """AP = (1/R) * sum_i i / r_i over the sorted relevant ranks r_1 < ... < r_R. ``[n_q]``.

    With one relevant candidate this is 1/rank (= reciprocal rank). Queries
    without a relevant candidate get 0, as in trec_eval.
    """
    ordered, n_rel = _sorted_ranks(ranks)
    position = np.arange(1, ordered.shape[1] + 1, dtype=np.float64)
    valid = np.arange(ordered.shape[1]) < n_rel[:, None]
    terms = np.where(valid, position / np.where(valid, ordered, 1), 0.0)
    return np.divide(terms.sum(axis=1), n_rel, out=np.zeros(len(n_rel)), where=n_rel > 0)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k with binary gains: sum_{r_i<=k} 1/log2(r_i+1) / sum_{i<=min(R,k)} 1/log2(i+1). ``[n_q]``."""
    ordered, n_rel = _sorted_ranks(ranks)
    hits = (ordered <= k) & (np.arange(ordered.shape[1]) < n_rel[:, None])
    dcg = np.where(hits, 1.0 / np.log2(np.where(hits, ordered, 1) + 1.0), 0.0).sum(axis=1)
    ideal_gains = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal_gains[np.minimum(n_rel, k)]
    return np.divide(dcg, idcg, out=np.zeros(len(n_rel)), where=idcg > 0)


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Recall@k = |{i: r_i <= k}| / R. ``[n_q]``."""
    ranks = np.asarray(ranks, dtype=np.int64)
    n_rel = (ranks > 0).sum(axis=1)
    hits = ((ranks > 0) & (ranks <= k)).sum(axis=1)
    return np.divide(hits, n_rel, out=np.zeros(len(n_rel)), where=n_rel > 0)


def reciprocal_rank_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """RR@k = 1 / r_1 when the best relevant rank r_1 <= k, else 0 (its mean is MRR@k). ``[n_q]``."""
    best = _sorted_ranks(ranks)[0][:, 0]  # absent slots sort last as int64 max
    hit = best <= k
    return np.where(hit, 1.0 / np.where(hit, best, 1), 0.0)


def accuracy_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """1.0 when some relevant candidate is ranked within the top ``k`` (success@k), else 0. ``[n_q]``.

    ``accuracy@1`` is the bitext-mining accuracy: the top result is relevant. With one relevant
    candidate it equals recall@k; with several, recall@k divides the hits by R and this does not.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    return ((ranks > 0) & (ranks <= k)).any(axis=1).astype(np.float64)


def rank_distance(ranks: np.ndarray) -> np.ndarray:
    """max rank - min rank among a query's relevant candidates. ``[n_q]``.

    A language-agnostic model puts parallel answers next to each other
    (distance = R - 1); a language-biased one spreads them apart.
    """
    ordered, n_rel = _sorted_ranks(ranks)
    last = ordered[np.arange(len(n_rel)), np.maximum(n_rel - 1, 0)]
    return np.where(n_rel > 0, last - ordered[:, 0], 0).astype(np.float64)


def same_language_first(ranks: np.ndarray, own_slot: int) -> np.ndarray:
    """1.0 where the best-ranked relevant candidate is in slot ``own_slot`` (the query's language). ``[n_q]``."""
    ranks = np.asarray(ranks, dtype=np.int64)
    big = np.iinfo(np.int64).max
    best = np.where(ranks > 0, ranks, big).min(axis=1)
    return ((ranks[:, own_slot] > 0) & (ranks[:, own_slot] == best)).astype(np.float64)


# Metric names parsed in one place: "ap", "ndcg@10", "recall@5".
METRICS: dict[str, Callable[..., np.ndarray]] = {
    "ap": average_precision,
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "mrr": reciprocal_rank_at_k,
    "accuracy": accuracy_at_k,
    "rank_distance": rank_distance,
}
_NEEDS_K = frozenset({"ndcg", "recall", "mrr", "accuracy"})
_NAME = re.compile(r"^(?P<base>[a-z_]+)(?:@(?P<k>[1-9][0-9]*))?$")


def parse_metric(name: str, known: Collection[str] | None = None) -> tuple[str, int | None]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``, ``"ap"`` -> ``("ap", None)``: the one place metric names
    are read, for the LAReQA evaluation and the corpus evaluation alike.

    ``known``: the base names the caller computes (default: :data:`METRICS`). ConfigError for
    an unknown name or a missing / unexpected cutoff, listing what is supported.
    """
    known = METRICS if known is None else known
    match = _NAME.match(name)
    if (
        not match
        or match["base"] not in known
        or (match["k"] is None) == (match["base"] in _NEEDS_K)
    ):
        supported = ", ".join(f"{b}@k" if b in _NEEDS_K else b for b in known)
        raise ConfigError(f"unknown metric {name!r}; supported: {supported}")
    return match["base"], None if match["k"] is None else int(match["k"])


def metric_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The per-query function for a metric name such as ``"ap"`` or ``"ndcg@10"``."""
    base, k = parse_metric(name)
    fn = METRICS[base]
    if k is None:
        return fn
    return lambda ranks: fn(ranks, k)
