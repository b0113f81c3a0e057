"""The analysis of an experiment: aggregates over queries and seeds, and the report's family of
significance tests (Holm-adjusted). :mod:`polyret.experiment.report` only renders them.

The tests themselves are in ``polyret.evaluation.significance`` (questions clustered by
article, seeds inside the test); the research-question tests in :mod:`.questions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from polyret.evaluation.results import LareqaResult
from polyret.evaluation.significance import (
    Comparison,
    compare_values,
    question_values,
    with_holm_within,
)
from polyret.experiment.config import ExperimentConfig, StrategySpec
from polyret.samplers.config import BatchStrategy

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


BASE = "base"
ALPHA = 0.05  # the level a Holm-adjusted p must be below for a row to be called significant


@dataclass
class Centered:
    """The centered evaluations of the base model and of each strategy's runs (one per seed)."""

    base: LareqaResult
    runs: dict[str, list[LareqaResult]]


def _metrics(result: LareqaResult, config: ExperimentConfig) -> dict[str, float]:
    s = result.summary()
    out = {f"{k}_map": s[f"{k}_map"] for k in KINDS if f"{k}_map" in s}
    for prefix in ("seen_", "unseen_"):
        for k in KINDS:
            if f"{prefix}{k}_map" in s:
                out[f"{prefix}{k}_map"] = s[f"{prefix}{k}_map"]
    high = config.eval.high_resource
    if high:
        other = [lang for lang in result.languages if lang not in set(high)]
        for k in KINDS:
            out[f"high_{k}_map"] = language_group_map(result, high, k)
            out[f"other_{k}_map"] = language_group_map(result, other, k)
    for key in ("rank_distance", "same_lang_first"):
        if key in s:
            out[key] = s[key]
    return out


def summarize(
    config: ExperimentConfig, base: LareqaResult, runs: dict[str, list[LareqaResult]]
) -> dict[str, dict[str, tuple[float, float]]]:
    """condition -> metric -> (mean, std over seeds); the base model has std 0."""
    table = {BASE: {k: (v, 0.0) for k, v in _metrics(base, config).items()}}
    for name, results in runs.items():
        per_seed = [_metrics(r, config) for r in results]
        table[name] = {k: mean_std([m[k] for m in per_seed]) for k in per_seed[0]}
    return table


def is_baseline(spec: StrategySpec) -> bool:
    """Mono-only and cross-only (with no options of their own) are the baselines; every other
    strategy (hybrid at any α, mixed batches, any design) is tested against each of them."""
    return spec.strategy in (BatchStrategy.MONO, BatchStrategy.CROSS) and not spec.train


def significance(
    config: ExperimentConfig,
    base: LareqaResult,
    runs: dict[str, list[LareqaResult]],
    centered: Centered | None = None,
    articles: Mapping[str, str] | None = None,
    kinds: Sequence[str] = KINDS,
) -> list[tuple[str, str, str, Comparison]]:
    """(hybrid, baseline, kind, test): every strategy that is not a baseline (:func:`is_baseline`)
    against mono-only, cross-only and the base model; with ``centered``, also hybrid+centering against centering alone and hybrid alone.

    ``articles``: question id -> article, the clusters of questions (None: every question its
    own). Seeds enter the tests (``polyret.evaluation.significance``); the base model is one
    fixed model, and a hybrid with and without centering are the same runs (paired seeds).
    The p-values are Holm-adjusted within each family of tests (a strategy's ``family``; one
    family, the report's, unless the config declares others).
    """
    specs = {s.name: s for s in config.strategies if s.name in runs}
    baselines = [s.name for s in specs.values() if is_baseline(s)]
    hybrids = [s.name for s in specs.values() if not is_baseline(s)]
    suffix = config.centering.suffix if centered is not None and config.centering else ""
    out = []
    for kind in kinds:
        values = {name: question_values(runs[name], kind) for name in specs}
        values[BASE] = question_values(base, kind)
        for h in hybrids:
            for b in baselines:
                out.append((h, b, kind, compare_values(values[h], values[b], articles)))
            test = compare_values(values[h], values[BASE], articles, b_fixed=True)
            out.append((h, BASE, kind, test))
        if not suffix or centered is None:
            continue
        # Do they add up? hybrid+center against centering alone, and against hybrid alone.
        centered_base = question_values(centered.base, kind)
        for h in hybrids:
            if h not in centered.runs:
                continue
            both = question_values(centered.runs[h], kind)
            test = compare_values(both, centered_base, articles, b_fixed=True)
            out.append((h + suffix, BASE + suffix, kind, test))
            test = compare_values(both, values[h], articles, paired_seeds=True)
            out.append((h + suffix, h, kind, test))
    families = [config.family_of(h) for h, *_ in out]
    adjusted = with_holm_within([t for *_, t in out], families)
    return [(h, b, k, t) for (h, b, k, _), t in zip(out, adjusted, strict=True)]
