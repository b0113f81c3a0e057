"""Aggregation over queries and seeds for the experiment report.

The significance tests are in ``polyret.evaluation.significance`` (questions clustered by
article, seeds inside the test, Holm over a report's tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polyret.evaluation.results import LareqaResult

KINDS = ("mono", "cross", "multi")


def per_query(result: LareqaResult, kind: str, metric: str = "ap") -> dict[tuple[str, str], float]:
    """(query language, question id) -> ``metric`` averaged over that query's settings of ``kind``.

    A mono or multi query has one setting; a cross query X has one per candidate language Y.
    """
    sums: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for s in result.of_kind(kind):
        values = s.per_query[metric]
        for qid, value in zip(s.query_ids, values, strict=True):
            key = (s.query_lang, qid)
            sums[key] = sums.get(key, 0.0) + float(value)
            counts[key] = counts.get(key, 0) + 1
    return {k: sums[k] / counts[k] for k in sums}


def seed_mean(values: Sequence[dict[tuple[str, str], float]]) -> dict[tuple[str, str], float]:
    """Average per-query values over seeds (keys common to every seed)."""
    common = set(values[0])
    for v in values[1:]:
        common &= set(v)
    return {k: float(np.mean([v[k] for v in values])) for k in sorted(common)}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def language_group_map(result: LareqaResult, languages: Sequence[str], kind: str) -> float:
    """Macro mAP over the settings of ``kind`` whose query language is in ``languages`` (NaN if none)."""
    members = [s.mean()["map"] for s in result.of_kind(kind) if s.query_lang in set(languages)]
    return float(np.mean(members)) if members else float("nan")
