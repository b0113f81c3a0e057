"""How often do the significance tests call a difference when there is none, and find a real one?

Simulated experiments (``polyret.testing.significance``: 11 correlated languages per
question, questions in articles, a random offset per training seed; seed std of mAP about
0.003) go through two tests:

* new: ``polyret.evaluation.significance.compare`` (questions averaged over their languages,
  clustered by article, seeds inside the test);
* old: the test the experiment report used before, a paired t-test and a Wilcoxon signed-rank
  test over (query language, question id) after averaging each condition over its seeds
  (the report called a row significant at Wilcoxon p < 0.05).

Each line gives the share of experiments with p < 0.05 (the false-positive rate where the true
difference is 0, the power otherwise) and, for the new test, the share of 95% intervals that
hold the true difference. About 1 minute on one core for the default 500 experiments each.

    PYTHONPATH=src python scripts/significance_calibration.py [--experiments 500]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from scipy import stats

from polyret.evaluation.significance import compare
from polyret.testing.significance import simulate

SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("3 vs 3 seeds, 48 articles x 25 questions (XQuAD-R size)", {}),
    ("3 seeds vs the base model (one fixed model)", {"seeds_b": 1, "b_fixed": True}),
    ("3 vs 3 seeds, 8 articles x 30 questions (protocol-a-cpu size)", {"articles": 8, "per_article": 30}),
    ("3 vs 3 seeds, no seed offsets, large per-question strategy effects", {"seed_sd": 0.0, "strategy_sd": 0.5}),
    ("3 runs scored two ways (centering on/off), paired seeds", {"paired": True}),
    ("1 seed vs the base model (quickstart): seed variance not covered", {"seeds_a": 1, "seeds_b": 1, "b_fixed": True}),
    ("power, 3 vs 3 seeds, true difference 0.006 (2 seed std)", {"diff": 0.006}),
    ("power, 3 vs 3 seeds, true difference 0.009 (3 seed std)", {"diff": 0.009}),
    ("power, 3 vs 3 seeds, true difference 0.012 (4 seed std)", {"diff": 0.012}),
]  # fmt: skip


def run(n: int, seed: int, options: dict[str, Any]) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    diff = options.get("diff", 0.0)
    new = covered = old_t = old_w = 0
    for _ in range(n):
        e = simulate(rng, **options)
        t = compare(
            e.a.mean(axis=1),
            e.b.mean(axis=1),
            e.articles,
            paired_seeds=options.get("paired", False),
            b_fixed=options.get("b_fixed", False),
        )
        new += t.p < 0.05
        covered += t.ci_low <= diff <= t.ci_high
        # old: every (language, question) one observation, seeds averaged away
        x, y = e.a.mean(axis=0).ravel(), e.b.mean(axis=0).ravel()
        old_t += stats.ttest_rel(x, y).pvalue < 0.05
        old_w += stats.wilcoxon(x, y, zero_method="zsplit").pvalue < 0.05
    return {"new": new / n, "ci": covered / n, "old_t": old_t / n, "old_w": old_w / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=500, help="per scenario")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"share of p < 0.05 over {args.experiments} simulated experiments per line\n")
    print(f"{'scenario':<72} {'new':>6} {'new CI':>7} {'old t':>6} {'old W':>6}")
    for i, (label, options) in enumerate(SCENARIOS):
        r = run(args.experiments, args.seed + i, options)
        print(f"{label:<72} {r['new']:6.3f} {r['ci']:7.3f} {r['old_t']:6.3f} {r['old_w']:6.3f}")
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
