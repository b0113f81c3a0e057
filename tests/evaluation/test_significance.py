from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from polyret.evaluation.results import LareqaResult, SettingResult
from polyret.evaluation.significance import (
    compare,
    compare_results,
    holm,
    question_values,
    with_holm,
)
from polyret.testing.significance import simulate

# --- Holm -------------------------------------------------------------------------------------


def test_holm_matches_a_hand_example() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> max so far 0.06
    got = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.02, np.nan, 0.03]), [0.04, np.nan, 0.04])  # NaN not counted
    assert holm([]).shape == (0,)


def test_holm_rejects_bad_p_values() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        holm([[0.1, 0.2]])


def test_with_holm_sets_the_family_adjusted_p() -> None:
    rng = np.random.default_rng(0)
    articles = np.repeat(np.arange(4), 5)
    tests = [
        compare(rng.normal(size=(2, 20)), rng.normal(size=(2, 20)), articles) for _ in range(3)
    ]
    assert all(t.p_holm is None for t in tests)
    adjusted = with_holm(tests)
    np.testing.assert_allclose([t.p_holm for t in adjusted], holm([t.p for t in tests]))
    assert [t.p for t in adjusted] == [t.p for t in tests]


# --- compare: exact cases -----------------------------------------------------------------------


def test_identical_inputs_give_no_difference_and_p_one() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(size=(3, 40))
    t = compare(a, a.copy(), np.repeat(np.arange(8), 5))
    assert t.diff == 0.0 and t.p == 1.0
    assert t.ci_low <= 0.0 <= t.ci_high
    flat = compare(np.full((1, 10), 0.5), np.full((1, 10), 0.5), np.arange(10) // 5)
    assert (flat.diff, flat.p, flat.ci_low, flat.ci_high, flat.se) == (0.0, 1.0, 0.0, 0.0, 0.0)
    # equal up to rounding (a sum in another order) is still equal
    rounded = compare(np.full((1, 10), 0.1 + 0.2), np.full((1, 10), 0.3), np.arange(10) // 5)
    assert rounded.p == 1.0
    # a constant shift of every value, with nothing that varies, is a certain difference
    shifted = compare(np.full((1, 10), 0.6), np.full((1, 10), 0.5), np.arange(10) // 5)
    assert shifted.diff == pytest.approx(0.1) and shifted.p == 0.0


def test_without_question_spread_it_is_welch_on_seed_means() -> None:
    # Every question moves with the seed: the question part is 0, and what is left is Welch's
    # t-test on the per-seed means.
    rng = np.random.default_rng(2)
    questions = rng.uniform(size=30)
    off_a, off_b = np.array([0.010, 0.013, 0.018]), np.array([0.0, 0.004, 0.002, 0.001])
    t = compare(questions + off_a[:, None], questions + off_b[:, None], np.arange(30) // 3)
    welch = stats.ttest_ind(off_a, off_b, equal_var=False)
    assert t.se_questions == pytest.approx(0.0, abs=1e-12)
    assert t.diff == pytest.approx(off_a.mean() - off_b.mean())
    assert t.p == pytest.approx(welch.pvalue, rel=1e-6)
    assert t.df == pytest.approx(welch.df, rel=1e-6)


def test_one_seed_and_one_question_per_article_is_the_paired_t_test() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=50), rng.uniform(size=50)
    t = compare(a, b, np.arange(50))
    ref = stats.ttest_rel(a, b)
    assert t.p == pytest.approx(ref.pvalue, rel=1e-6)
    assert t.df == pytest.approx(49)
    assert t.se_seeds == 0.0 and not t.covers_seeds
    low, high = ref.confidence_interval(0.95)
    assert (t.ci_low, t.ci_high) == pytest.approx((low, high), rel=1e-6)


def test_paired_seeds_use_per_run_differences() -> None:
    rng = np.random.default_rng(4)
    questions = rng.uniform(size=(1, 60))
    runs = questions + np.array([[0.0], [0.02], [-0.015]])  # large seed offsets
    other = runs - 0.003 + rng.normal(0.0, 1e-4, (3, 1))  # the same runs, shifted
    articles = np.arange(60) // 6
    paired = compare(runs, other, articles, paired_seeds=True)
    unpaired = compare(runs, other, articles)
    assert paired.diff == pytest.approx(unpaired.diff)
    assert paired.se_seeds < unpaired.se_seeds / 10
    assert paired.p < 0.01 < unpaired.p
    assert paired.covers_seeds


def test_article_clustering_widens_the_interval() -> None:
    # Differences shared within each article: 10 articles, not 100 independent questions.
    rng = np.random.default_rng(5)
    articles = np.repeat(np.arange(10), 10)
    shift = rng.normal(0.0, 0.05, 10)[articles] + rng.normal(0.0, 0.01, 100)
    a = rng.uniform(size=(1, 100))
    clustered = compare(a + shift, a, articles, b_fixed=True)
    independent = compare(a + shift, a, np.arange(100), b_fixed=True)
    assert clustered.diff == pytest.approx(independent.diff)
    assert clustered.se_questions > 2 * independent.se_questions
    assert clustered.n_articles == 10 and clustered.df == pytest.approx(9)


def test_the_order_of_questions_does_not_matter() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.uniform(size=(3, 40)), rng.uniform(size=(2, 40))
    articles = [f"art{i % 7}" for i in range(40)]
    w = rng.uniform(size=40)
    order = rng.permutation(40)
    one = compare(a, b, articles, weights=w)
    two = compare(a[:, order], b[:, order], [articles[i] for i in order], weights=w[order])
    assert one.p == pytest.approx(two.p) and one.ci_low == pytest.approx(two.ci_low)
    assert one == compare(a, b, articles, weights=w)  # deterministic: no random numbers


def test_who_covers_seed_variance() -> None:
    arts = np.arange(20) // 4
    three, one = np.ones((3, 20)) * [[0.1], [0.2], [0.3]], np.full((1, 20), 0.2)
    assert compare(three, three + 0.1, arts).covers_seeds
    assert compare(three, one, arts, b_fixed=True).covers_seeds  # the base model
    assert not compare(three, one, arts).covers_seeds  # a one-seed strategy
    assert not compare(one, one + 0.1, arts, b_fixed=True).covers_seeds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"b": np.zeros((2, 9))}, "a has 10 questions but b has 9"),
        ({"articles": np.arange(9)}, "articles has 9 labels for 10 questions"),
        ({"a": np.full((2, 10), np.nan)}, "a holds NaN"),
        ({"a": np.zeros((2, 2, 10))}, r"a must be \[seeds, questions\]"),
        ({"b": np.zeros((0, 10))}, r"b must be \[seeds, questions\]"),
        ({"weights": np.ones(3)}, r"weights must have one value per question \(10\)"),
        ({"weights": -np.ones(10)}, "non-negative"),
        ({"confidence": 95}, r"confidence must be in \(0, 1\), got 95"),
        (
            {"b": np.zeros((3, 10)), "paired_seeds": True},
            "as many seeds on both sides, got 2 and 3",
        ),
        ({"b_fixed": True}, "b_fixed means one deterministic model, but b has 2 rows"),
        ({"articles": ["x"] * 10}, "at least 2 articles"),
    ],
)
def test_bad_inputs_are_named(kwargs: dict, message: str) -> None:
    args = {"a": np.zeros((2, 10)), "b": np.zeros((2, 10)), "articles": np.arange(10) // 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        compare(args.pop("a"), args.pop("b"), args.pop("articles"), **args)


# --- simulation: false positives, coverage, power ------------------------------------------------
# 48 articles x 25 questions x 11 languages, seed std of mAP ~0.003 (polyret.testing.significance). The
# test is closed-form, so each experiment costs one pass over its values; the 700 experiments
# below take a few seconds.


def _run(n: int, seed: int, **kw: object) -> tuple[float, float]:
    """(share of p < 0.05, share of 95% intervals holding the true difference)."""
    rng = np.random.default_rng(seed)
    diff = float(kw.get("diff", 0.0))  # type: ignore[arg-type]
    rejected = covered = 0
    for _ in range(n):
        e = simulate(rng, **kw)  # type: ignore[arg-type]
        # per question: averaged over its 11 languages, as question_values does
        t = compare(e.a.mean(axis=1), e.b.mean(axis=1), e.articles, b_fixed=e.b.shape[0] == 1)
        rejected += t.p < 0.05
        covered += t.ci_low <= diff <= t.ci_high
    return rejected / n, covered / n


def test_simulated_seed_std_is_that_of_the_real_runs() -> None:
    rng = np.random.default_rng(7)
    stds = [simulate(rng).a.mean(axis=(1, 2)).std(ddof=1) for _ in range(100)]
    assert 0.002 < np.sqrt(np.mean(np.square(stds))) < 0.004


def test_no_true_difference_is_rarely_called_one() -> None:
    rate, coverage = _run(300, seed=8)  # 3 seeds against 3
    assert rate <= 0.08
    assert coverage >= 0.9
    rate, coverage = _run(200, seed=9, seeds_b=1, b_fixed=True)  # 3 seeds against the base model
    assert rate <= 0.08
    assert coverage >= 0.9


def test_a_difference_of_four_seed_stds_is_found() -> None:
    rate, coverage = _run(200, seed=10, diff=0.012)  # 4 x the seed std of mAP
    assert rate >= 0.8
    assert coverage >= 0.9


# --- from evaluations -----------------------------------------------------------------------------


def _result(shift: int = 0) -> LareqaResult:
    """en/de; en holds q1-q3, de q1-q2 (as in MLQA-R, settings differ in size)."""

    def mono(lang: str, ids: list[str], ranks: list[int]) -> SettingResult:
        return SettingResult(lang, lang, ids, 10, np.array(ranks) + shift, [lang])

    settings = [
        mono("en", ["q1", "q2", "q3"], [1, 2, 4]),
        mono("de", ["q1", "q2"], [1, 5]),
        SettingResult("en", "de", ["q1", "q2"], 10, np.array([2, 3]) + shift, ["de"]),
        SettingResult("de", "en", ["q1", "q2"], 10, np.array([1, 1]) + shift, ["en"]),
    ]
    return LareqaResult("toy", ["de", "en"], {s.name: s for s in settings})


def test_question_values_average_languages_and_keep_the_macro_mean() -> None:
    values = question_values([_result(), _result(1)], "mono")
    assert values.ids == ["q1", "q2", "q3"]
    assert values.values.shape == (2, 3)
    # the weighted mean over questions is the table's macro mAP, seed by seed
    assert values.values @ values.weights == pytest.approx(
        [_result().summary()["mono_map"], _result(1).summary()["mono_map"]]
    )
    # q1: AP 1 in en (3 queries) and 1 in de (2 queries), weights 1/6 and 1/4
    assert values.values[0, 0] == pytest.approx(1.0)
    assert values.values[0, 1] == pytest.approx((0.5 / 6 + 0.2 / 4) / (1 / 6 + 1 / 4))
    cross = question_values(_result(), "cross")
    assert cross.values[0] == pytest.approx([0.75, 2 / 3])  # (1/2 + 1) / 2, (1/3 + 1) / 2


def test_compare_results_against_the_base_model() -> None:
    articles = {"q1": "A", "q2": "A", "q3": "B"}
    t = compare_results([_result(), _result(1)], _result(), "mono", articles, b_fixed=True)
    assert t.seeds_a == 2 and t.seeds_b == 1 and t.n_articles == 2
    assert t.diff == pytest.approx(
        np.mean([_result(s).summary()["mono_map"] for s in (0, 1)])
        - _result().summary()["mono_map"]
    )
    with pytest.raises(ValueError, match=r"no article for 1 question id\(s\), e\.g\. q3"):
        compare_results(_result(), _result(), "mono", {"q1": "A", "q2": "A"})
    with pytest.raises(ValueError, match="no 'multi' settings"):
        compare_results(_result(), _result(), "multi", articles)


def test_question_values_refuse_different_questions() -> None:
    other = _result()
    del other.settings["de->de"]
    with pytest.raises(ValueError, match="result 1 holds other 'mono' questions"):
        question_values([_result(), other], "mono")
    with pytest.raises(ValueError, match="at least one result"):
        question_values([], "mono")
