from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from polyret.errors import ConfigError
from polyret.evaluation import metrics


def test_hand_values() -> None:
    # query 0: relevant at ranks 3 and 5 (two slots); query 1: one relevant at rank 1; query 2: rank 12
    ranks = np.array([[5, 3], [0, 1], [12, 0]])
    assert metrics.average_precision(ranks) == pytest.approx([(1 / 3 + 2 / 5) / 2, 1.0, 1 / 12])
    idcg2 = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k(ranks, 10) == pytest.approx(
        [(1 / 2 + 1 / math.log2(6)) / idcg2, 1.0, 0.0]
    )
    assert metrics.recall_at_k(ranks, 4) == pytest.approx([0.5, 1.0, 0.0])
    assert metrics.recall_at_k(ranks, 100) == pytest.approx([1.0, 1.0, 1.0])
    assert metrics.rank_distance(ranks) == pytest.approx([2, 0, 0])
    assert metrics.same_language_first(ranks, 1) == pytest.approx([1, 1, 0])
    assert metrics.same_language_first(ranks, 0) == pytest.approx([0, 0, 1])
    assert metrics.reciprocal_rank_at_k(ranks, 10) == pytest.approx([1 / 3, 1.0, 0.0])
    assert metrics.reciprocal_rank_at_k(ranks, 12) == pytest.approx([1 / 3, 1.0, 1 / 12])
    assert metrics.accuracy_at_k(ranks, 1) == pytest.approx([0, 1, 0])
    assert metrics.accuracy_at_k(ranks, 3) == pytest.approx([1, 1, 0])  # recall@3: [0.5, 1, 0]


def test_no_relevant_gives_zero() -> None:
    ranks = np.zeros((1, 3), dtype=np.int64)
    for fn in (metrics.average_precision, metrics.rank_distance):
        assert fn(ranks).tolist() == [0.0]
    assert metrics.ndcg_at_k(ranks, 10).tolist() == [0.0]
    assert metrics.reciprocal_rank_at_k(ranks, 10).tolist() == [0.0]
    assert metrics.accuracy_at_k(ranks, 10).tolist() == [0.0]


def test_metric_names() -> None:
    r = np.array([[2]])
    assert metrics.metric_function("ndcg@10")(r) == pytest.approx([1 / math.log2(3)])
    assert metrics.metric_function("ap")(r) == pytest.approx([0.5])
    assert metrics.metric_function("mrr@10")(r) == pytest.approx([0.5])
    assert metrics.metric_function("accuracy@1")(r) == pytest.approx([0.0])
    supported = "supported: ap, ndcg@k, recall@k, mrr@k, accuracy@k, rank_distance"
    for bad in ("ndcg", "map@3", "mrr", "recall@0"):
        with pytest.raises(ConfigError, match=supported):
            metrics.metric_function(bad)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(1, 40), min_size=1, max_size=6, unique=True),
        min_size=1,
        max_size=8,
    )
)
def test_equal_to_pytrec_eval(rank_lists: list[list[int]]) -> None:
    n_docs = 40
    width = max(len(r) for r in rank_lists)
    ranks = np.zeros((len(rank_lists), width), dtype=np.int64)
    qrels, run = {}, {}
    for i, rel in enumerate(rank_lists):
        ranks[i, : len(rel)] = rel
        qrels[f"q{i}"] = {f"d{r:02d}": 1 for r in rel}
        run[f"q{i}"] = {f"d{r:02d}": float(n_docs - r) for r in range(1, n_docs + 1)}
    ks = (1, 5, 10, 30)
    measures = {"map", "ndcg_cut_10", "recip_rank", "success", *(f"recall_{k}" for k in ks)}
    ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    ours = {
        "map": metrics.average_precision(ranks),
        "recip_rank": metrics.reciprocal_rank_at_k(ranks, n_docs),  # the full ranking
        **{f"success_{k}": metrics.accuracy_at_k(ranks, k) for k in (1, 5, 10)},
        "ndcg_cut_10": metrics.ndcg_at_k(ranks, 10),
        **{f"recall_{k}": metrics.recall_at_k(ranks, k) for k in ks},
    }
    for name, values in ours.items():
        expected = [ref[f"q{i}"][name] for i in range(len(rank_lists))]
        np.testing.assert_allclose(values, expected, atol=1e-6, err_msg=name)
