"""Is one condition better than another? Tests over questions clustered by article, and seeds.

The unit is the parallel question: one question id, its per-query metric averaged over its query
languages and the settings of one kind (mono, cross or multi), so that one question asked in 11
languages counts once, not 11 times. Questions of one article share candidates and topic, so
they are clustered by article. A condition trained with several seeds gives one row of values
per seed.

The difference of two conditions, ``D`` = (mean over A's seeds) - (mean over B's seeds) of the
weighted mean over questions, varies for two reasons, and its variance is the sum of two parts:

* seeds: a new training seed moves every question of a run together. Estimated from the spread
  of each condition's per-seed means, ``s_A^2 / n_A + s_B^2 / n_B`` (``n - 1`` degrees of
  freedom each). With ``paired_seeds`` (the same runs scored two ways, e.g. with and without
  centering) from the per-seed differences instead, ``s_{A-B}^2 / n``.
* questions: another sample of articles would give other questions. Estimated from the
  article-cluster (CR1) variance of the seed-averaged per-question differences,
  ``G / (G - 1) * sum_g (sum_{q in g} w_q (d_q - D))^2`` (``G - 1`` degrees of freedom).

The two parts both contain the seed x question noise (a run that happens to do better on some
questions); it is counted twice, which keeps the test on the safe side by a term of order
noise^2 / questions (in the simulations below, 3.4-5.2% false positives at the 5% level).

``D / sqrt(variance)`` is referred to a t distribution with Welch-Satterthwaite degrees of
freedom; the confidence interval is ``D +- t * sqrt(variance)``. With 3 seeds a condition's seed
variance rests on 2 degrees of freedom, and the t reference (about 4 degrees of freedom for 3
against 3 seeds) widens the interval accordingly. Why not resample? Bootstrapping 3 seeds with
replacement underestimates their variance by the factor (n - 1) / n = 2/3 and pretends the
variance is known; permuting seed labels alone cannot go below p = 0.1 (3 against 3) or
0.25 (1 against 3) and ignores the questions. The closed form has neither problem, needs no
random numbers (so it is deterministic without a seed), and costs one pass over the values.
``tests/evaluation/test_significance.py`` checks its false-positive rate and power by
simulation; ``scripts/significance_calibration.py`` prints them next to the old test's.

A side with one seed: its seed variance cannot be estimated and the test then covers only
question sampling (``Comparison.covers_seeds`` is False), unless that side is one fixed model
(``b_fixed``: the base model, which no seed changes).

Over a report's family of tests, :func:`holm` adjusts the p-values (Holm 1979), which controls
the chance of any false positive in the family.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from polyret.evaluation.results import LareqaResult, SettingResult

__all__ = [
    "METHOD",
    "Comparison",
    "QuestionValues",
    "compare",
    "compare_results",
    "compare_values",
    "holm",
    "question_values",
    "with_holm",
]

METHOD = (
    "The unit is the parallel question: its AP averaged over its query languages and the "
    "settings of the kind (weighted so that the mean over questions is the table's macro mAP), "
    "with questions clustered by article (questions of one article share candidates). The "
    "difference of the seed means has two sources of variance, added up: training seeds (the "
    "spread of each condition's per-seed mAP; per-seed differences when both sides are the same "
    "runs, as with and without centering) and questions (the between-article spread of the "
    "seed-averaged per-question differences). Two-sided Welch-Satterthwaite t-test; 95% CI = "
    "diff ± t × SE. Nothing is resampled, so the numbers are deterministic. A p-value is the "
    "chance of a difference at least this large if both conditions had the same expected mAP "
    "over new training seeds and new articles of this data set; it says nothing about other data "
    "sets, step budgets or base models."
)


class QuestionValues(NamedTuple):
    """Per-seed per-question values of one condition and kind.

    ``values``: float64 [seeds, questions]; ``weights``: [questions], summing to 1, such that
    ``values @ weights`` is each seed's macro mean over the kind's settings.
    """

    ids: list[str]
    values: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Comparison:
    """A against B: the difference of their means, its confidence interval and p-values.

    ``se_seeds`` and ``se_questions`` are the two parts of the standard error ``se``
    (``se**2 = se_seeds**2 + se_questions**2``); ``df`` the Welch-Satterthwaite degrees of
    freedom. ``covers_seeds``: both sides' seed variance is in ``se`` (each side has several
    seeds, or is one fixed model, or the seeds are paired). ``p_holm`` is None until :func:`with_holm` sets it over a family of tests.
    """

    n_questions: int
    n_articles: int
    seeds_a: int
    seeds_b: int
    paired_seeds: bool
    b_fixed: bool
    covers_seeds: bool
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    confidence: float
    se: float
    se_seeds: float
    se_questions: float
    df: float
    p: float
    p_holm: float | None = None


def compare(
    a: ArrayLike,
    b: ArrayLike,
    articles: Sequence[object] | np.ndarray,
    *,
    weights: ArrayLike | None = None,
    paired_seeds: bool = False,
    b_fixed: bool = False,
    confidence: float = 0.95,
) -> Comparison:
    """Compare A and B over the same questions, with their seeds (see the module docstring).

    ``a``: [seeds_a, questions] (or [questions] for one seed), ``b``: [seeds_b, questions];
    ``articles``: the article of each question (any hashable labels); ``weights``: per question,
    non-negative (normalised to sum 1; default equal). ``paired_seeds``: row ``i`` of ``a`` and
    of ``b`` come from the same training run (needs ``seeds_a == seeds_b``). ``b_fixed``: B is
    one deterministic model (the base model): its single row misses no seed variance.
    """
    from scipy import stats

    x = _seed_matrix(a, "a")
    y = _seed_matrix(b, "b")
    n_q = x.shape[1]
    if y.shape[1] != n_q:
        raise ValueError(f"a has {n_q} questions but b has {y.shape[1]}; both need the same ones")
    if len(articles) != n_q:
        raise ValueError(f"articles has {len(articles)} labels for {n_q} questions")
    w = _weights(weights, n_q)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if paired_seeds and x.shape[0] != y.shape[0]:
        raise ValueError(
            f"paired_seeds needs as many seeds on both sides, got {x.shape[0]} and {y.shape[0]}"
        )
    if b_fixed and y.shape[0] != 1:
        raise ValueError(f"b_fixed means one deterministic model, but b has {y.shape[0]} rows")
    _, cluster = np.unique(np.asarray(articles, dtype=object).astype(str), return_inverse=True)
    n_g = int(cluster.max()) + 1
    if n_g < 2:
        raise ValueError(
            "all questions are from one article; the question part of the variance needs "
            "at least 2 articles"
        )

    seed_means_a, seed_means_b = x @ w, y @ w  # [seeds]: each run's macro mean
    mean_a, mean_b = float(seed_means_a.mean()), float(seed_means_b.mean())
    diff = mean_a - mean_b
    parts: list[tuple[float, int]] = []  # (variance of the difference, degrees of freedom)
    if paired_seeds:
        if x.shape[0] > 1:
            per_run = seed_means_a - seed_means_b
            parts.append((float(per_run.var(ddof=1)) / len(per_run), len(per_run) - 1))
    else:
        for means in (seed_means_a, seed_means_b):
            if len(means) > 1:
                parts.append((float(means.var(ddof=1)) / len(means), len(means) - 1))
    var_seeds = sum(v for v, _ in parts)
    d = x.mean(axis=0) - y.mean(axis=0)  # [questions]: seed-averaged differences
    totals = np.bincount(cluster, weights=w * (d - diff), minlength=n_g)  # [articles]
    var_questions = n_g / (n_g - 1) * float(totals @ totals)
    parts.append((var_questions, n_g - 1))

    var = var_seeds + var_questions
    se = math.sqrt(var)
    # Welch-Satterthwaite: each part is a scaled chi-square with its own degrees of freedom.
    denom = sum(v * v / df for v, df in parts if v > 0)
    dof = var * var / denom if denom > 0 else math.inf
    tiny = 1e-12 * max(1.0, abs(mean_a), abs(mean_b))  # below this it is rounding error
    if se > tiny:
        p = float(2.0 * stats.t.sf(abs(diff) / se, dof))
        half = float(stats.t.ppf(0.5 + confidence / 2.0, dof)) * se
    else:  # no variance at all: identical inputs, or a constant shift of every value
        se, half = 0.0, 0.0
        p = 1.0 if abs(diff) <= tiny else 0.0
    covers = x.shape[0] > 1 and (paired_seeds or y.shape[0] > 1 or b_fixed)
    return Comparison(
        n_questions=n_q,
        n_articles=n_g,
        seeds_a=x.shape[0],
        seeds_b=y.shape[0],
        paired_seeds=paired_seeds,
        b_fixed=b_fixed,
        covers_seeds=covers,
        mean_a=mean_a,
        mean_b=mean_b,
        diff=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        confidence=confidence,
        se=se,
        se_seeds=math.sqrt(var_seeds),
        se_questions=math.sqrt(var_questions),
        df=dof,
        p=min(p, 1.0),
    )


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order (NaN stays NaN, not counted).

    Sorted ascending, the i-th smallest of m p-values becomes ``max_{j<=i} min(1, (m-j+1) p_j)``.
    Written out because scipy has no Holm (``scipy.stats.false_discovery_control`` is
    Benjamini-Hochberg, which controls another error rate) and statsmodels is not a dependency.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[valid].min()}..{p[valid].max()}")
    out = np.full_like(p, np.nan)
    index = np.flatnonzero(valid)
    order = index[np.argsort(p[index], kind="stable")]
    m = len(order)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(stepped)
    return out


def with_holm(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons with ``p_holm`` set, Holm-adjusted over all of them as one family."""
    adjusted = holm([c.p for c in comparisons])
    return [
        dataclasses.replace(c, p_holm=float(h)) for c, h in zip(comparisons, adjusted, strict=True)
    ]


def with_holm_within(
    comparisons: Sequence[Comparison], families: Sequence[str]
) -> list[Comparison]:
    """The comparisons with ``p_holm`` set, Holm-adjusted within each family: ``families[i]``
    names the family of ``comparisons[i]``; the order is kept."""
    out = list(comparisons)
    for family in dict.fromkeys(families):
        index = [i for i, f in enumerate(families) if f == family]
        for i, c in zip(index, with_holm([comparisons[i] for i in index]), strict=True):
            out[i] = c
    return out


def question_values(
    results: LareqaResult | Sequence[LareqaResult],
    kind: str,
    metric: str = "ap",
    where: Callable[[LareqaResult, SettingResult], bool] | None = None,
) -> QuestionValues:
    """Per-seed per-question ``metric`` of one kind; ``results``: one evaluation per seed.

    ``where(result, setting)``: only the settings it accepts (e.g. the unseen query languages).

    A question's value is the mean over its settings of ``kind`` (its query languages, and for
    cross its candidate languages too), each setting weighted 1 / (its number of queries), and
    its weight the sum of those weights: then the weighted mean over questions is the macro
    mean over settings that the report's tables show. On XQuAD-R, where every setting holds
    every question, that is the plain mean over settings and equal weights.
    """
    if isinstance(results, LareqaResult):
        results = [results]
    if not results:
        raise ValueError("question_values needs at least one result")
    rows: list[np.ndarray] = []
    ids: list[str] = []
    weights = np.zeros(0)
    for i, result in enumerate(results):
        settings = [x for x in result.of_kind(kind) if where is None or where(result, x)]
        if not settings:
            raise ValueError(f"result {i} ({result.dataset}) has no {kind!r} settings selected")
        index: dict[str, int] = {}
        positions = []
        for s in settings:
            if metric not in s.per_query:
                raise ValueError(f"no per-query {metric!r} in {s.name}; have {sorted(s.per_query)}")
            slots = (index.setdefault(q, len(index)) for q in s.query_ids)
            positions.append(np.fromiter(slots, dtype=np.int64, count=s.n_queries))
        sums, mass = np.zeros(len(index)), np.zeros(len(index))
        for s, pos in zip(settings, positions, strict=True):
            share = 1.0 / (len(settings) * s.n_queries)
            sums += np.bincount(pos, weights=share * s.per_query[metric], minlength=len(index))
            mass += np.bincount(pos, minlength=len(index)) * share
        order = sorted(index)
        keep = np.array([index[q] for q in order], dtype=np.int64)
        if i == 0:
            ids, weights = order, mass[keep]
        elif order != ids or not np.allclose(mass[keep], weights):
            raise ValueError(
                f"result {i} holds other {kind!r} questions or settings than result 0; "
                "compare only evaluations of the same data"
            )
        rows.append(sums[keep] / mass[keep])
    return QuestionValues(ids, np.array(rows, dtype=np.float64), weights)


def compare_results(
    a: LareqaResult | Sequence[LareqaResult],
    b: LareqaResult | Sequence[LareqaResult],
    kind: str,
    articles: Mapping[str, str] | None,
    *,
    metric: str = "ap",
    paired_seeds: bool = False,
    b_fixed: bool = False,
    confidence: float = 0.95,
) -> Comparison:
    """:func:`compare` on evaluations: one result per seed on each side, ``metric`` of ``kind``.

    ``articles``: question id -> article (``LareqaDataset.question_articles()``); None treats
    every question as its own article (no clustering; only when the articles are unknown).
    """
    return compare_values(
        question_values(a, kind, metric),
        question_values(b, kind, metric),
        articles,
        paired_seeds=paired_seeds,
        b_fixed=b_fixed,
        confidence=confidence,
    )


def compare_values(
    a: QuestionValues,
    b: QuestionValues,
    articles: Mapping[str, str] | None,
    *,
    paired_seeds: bool = False,
    b_fixed: bool = False,
    confidence: float = 0.95,
) -> Comparison:
    """:func:`compare_results` from :func:`question_values` (to reuse them across tests)."""
    if a.ids != b.ids or not np.allclose(a.weights, b.weights):
        raise ValueError("a and b hold different questions or settings")
    if articles is None:
        labels: list[str] = list(a.ids)
    else:
        missing = [q for q in a.ids if q not in articles]
        if missing:
            raise ValueError(
                f"no article for {len(missing)} question id(s), e.g. {', '.join(missing[:3])}"
            )
        labels = [articles[q] for q in a.ids]
    return compare(
        a.values,
        b.values,
        labels,
        weights=a.weights,
        paired_seeds=paired_seeds,
        b_fixed=b_fixed,
        confidence=confidence,
    )


def _seed_matrix(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must be [seeds, questions] with at least one of each, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def _weights(weights: ArrayLike | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per question ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w / w.sum()
