"""Synthetic experiments for checking significance tests: per-seed per-(language, question) AP.

The shape follows protocol A on XQuAD-R: 48 articles x 25 questions, each question asked in 11
languages whose values are correlated (they share the question's and the article's difficulty),
per-question AP spread about 0.3, and per run a random seed offset that moves every question
together (strategy seed std about 0.003 in mAP). Each strategy also has its own fixed
per-question deviations, and each run its own seed x question noise, so that two strategies
with the same expected mAP still differ question by question. Everything happens on the logit
scale, so AP stays in (0, 1); a true difference ``diff`` is added in AP units to strategy A.

Used by ``test_significance.py`` and ``scripts/significance_calibration.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Experiment(NamedTuple):
    """``a``: [seeds_a, langs, questions], ``b``: [seeds_b, langs, questions], ``articles``: [questions]."""

    a: np.ndarray
    b: np.ndarray
    articles: np.ndarray


SEED_LOGIT_SD = 0.02  # gives a seed std of mAP close to 0.003 (checked in the test)


def simulate(
    rng: np.random.Generator,
    *,
    seeds_a: int = 3,
    seeds_b: int = 3,
    b_fixed: bool = False,
    diff: float = 0.0,
    articles: int = 48,
    per_article: int = 25,
    langs: int = 11,
    seed_sd: float = SEED_LOGIT_SD,
    strategy_sd: float = 0.1,
    paired: bool = False,
) -> Experiment:
    """One experiment with two conditions whose expected mAP differs by ``diff`` (A minus B).

    ``b_fixed``: B is one deterministic model (like the base model: no seed offset, no run
    noise beyond its own fixed deviations; ``seeds_b`` must be 1). ``seed_sd``: std of the seed
    offsets, ``strategy_sd``: of each strategy's fixed per-question deviations (logit scale).
    ``paired``: B's runs are A's runs scored another way (as with and without centering): they
    share seed offsets and run noise.
    """
    if b_fixed and seeds_b != 1:
        raise ValueError("a fixed B is one model: seeds_b must be 1")
    if paired and (b_fixed or seeds_a != seeds_b):
        raise ValueError("paired runs need as many seeds on both sides and no fixed B")
    n_q = articles * per_article
    article_of = np.repeat(np.arange(articles), per_article)
    # shared difficulty: article, question, language, and the (language, question) cell
    shared = (
        0.6
        + rng.normal(0.0, 1.0, articles)[article_of][None, :]
        + rng.normal(0.0, 1.5, n_q)[None, :]
        + rng.normal(0.0, 0.2, langs)[:, None]
        + rng.normal(0.0, 0.8, (langs, n_q))
    )  # [langs, questions]

    def fixed() -> np.ndarray:  # a strategy's own deviations: [langs, questions]
        return strategy_sd * (
            rng.normal(0.0, 0.5, articles)[article_of][None, :]
            + rng.normal(0.0, 1.0, n_q)[None, :]
            + rng.normal(0.0, 1.0, (langs, n_q))
        )

    def runs(n_seeds: int) -> np.ndarray:  # [seeds, langs, questions]
        return (
            rng.normal(0.0, seed_sd, (n_seeds, 1, 1))  # the seed offset
            + rng.normal(0.0, 0.08, (n_seeds, 1, n_q))  # seed x question
            + rng.normal(0.0, 0.08, (n_seeds, langs, n_q))  # seed x (language, question)
        )

    runs_a = runs(seeds_a)
    a = _sigmoid(shared + fixed() + runs_a) + diff
    if b_fixed:
        b = _sigmoid(shared + fixed())[None]
    else:
        b = _sigmoid(shared + fixed() + (runs_a if paired else runs(seeds_b)))
    return Experiment(a, b, article_of)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
