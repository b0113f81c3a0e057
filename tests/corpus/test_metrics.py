from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval

from polyret.corpus.metrics import evaluate_run, language_shares, mean_metrics, truncate_run
from polyret.data.trec import trec_order, write_run

QRELS = {"q1": {"a": 2, "b": 1, "z": 0}, "q2": {"c": 1}, "q3": {"x": 1}}


def make_run(seed: int = 0) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    docs = [*"abcdefghijklmnop", "x", "z"]
    return {
        qid: {
            d: float(s) for d, s in zip(docs, rng.standard_normal(len(docs)).round(2), strict=True)
        }
        for qid in ("q1", "q2", "q3")
    }


def by_hand_ndcg10(qrels: dict[str, int], ranking: list[str]) -> float:
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]))
    ideal = sorted(qrels.values(), reverse=True)[:10]
    return dcg / sum(g / math.log2(i + 2) for i, g in enumerate(ideal))


def test_metrics_equal_pytrec_eval_and_hand_computation() -> None:
    run = make_run()
    per_query = evaluate_run(QRELS, run)
    direct = pytrec_eval.RelevanceEvaluator(QRELS, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    for qid, row in per_query.items():
        assert row["ndcg@10"] == direct[qid]["ndcg_cut_10"]
        assert row["recall@100"] == direct[qid]["recall_100"]
        ranking = [d for d, _ in trec_order(run[qid].items())]
        assert row["ndcg@10"] == pytest.approx(by_hand_ndcg10(QRELS[qid], ranking))
        first = next((i for i, d in enumerate(ranking[:10]) if QRELS[qid].get(d, 0) > 0), None)
        assert row["mrr@10"] == pytest.approx(0.0 if first is None else 1 / (first + 1))
    assert mean_metrics(per_query)["ndcg@10"] == pytest.approx(
        np.mean([r["ndcg@10"] for r in per_query.values()])
    )


def test_mrr_is_cut_at_ten() -> None:
    ranking = {f"n{i}": 100.0 - i for i in range(12)} | {"hit": 50.0}  # hit at rank 13
    assert evaluate_run({"q": {"hit": 1}}, {"q": ranking})["q"]["mrr@10"] == 0.0
    ranking["hit"] = 90.5  # rank 11
    assert evaluate_run({"q": {"hit": 1}}, {"q": ranking})["q"]["mrr@10"] == 0.0
    ranking["hit"] = 91.5  # rank 10
    assert evaluate_run({"q": {"hit": 1}}, {"q": ranking})["q"]["mrr@10"] == pytest.approx(0.1)


def test_truncation_breaks_ties_like_trec_eval() -> None:
    # trec_eval orders equal scores by docid descending: "b" before "a".
    run = {"q": {"a": 1.0, "b": 1.0, "c": 0.5}}
    assert list(truncate_run(run, 1)["q"]) == ["b"]
    full = pytrec_eval.RelevanceEvaluator({"q": {"a": 1}}, {"recip_rank"}).evaluate(run)
    assert full["q"]["recip_rank"] == 0.5
    assert evaluate_run({"q": {"a": 1}}, run)["q"]["mrr@10"] == 0.5


def test_written_run_round_trips_through_pytrec_eval(tmp_path: Path) -> None:
    run = {
        qid: {d: s + 1e-7 * i for i, (d, s) in enumerate(r.items())}
        for qid, r in make_run(1).items()
    }
    path = tmp_path / "runs" / "x.trec"
    write_run(path, run, tag="t")
    lines = path.read_text().splitlines()
    assert lines[0].split()[1] == "Q0" and lines[0].split()[3] == "1" and lines[0].split()[5] == "t"
    with open(path) as f:
        parsed = pytrec_eval.parse_run(f)
    assert evaluate_run(QRELS, parsed) == evaluate_run(QRELS, run)


def test_language_shares() -> None:
    # pool: rows 0-3 are "sw", rows 4-9 are "yo"
    blocks = [("sw", 0, 4), ("yo", 4, 6)]
    rows = np.array([[0, 1, 5, 6], [4, 5, 6, 7], [9, 2, -1, -1]])
    shares = language_shares(
        rows, ["sw", "yo", "sw"], blocks, [["sw"], ["yo", "yo"], ["sw", "yo"]], cutoffs=(2, 4)
    )
    sw, yo = shares["sw"], shares["yo"]
    assert sw["queries"] == 2 and yo["queries"] == 1
    assert sw["own_share@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert sw["own_share@4"] == pytest.approx(
        (0.5 + 0.5) / 2
    )  # the padded query counts its 2 results
    assert sw["languages@4"] == pytest.approx({"sw": 0.5, "yo": 0.5})
    assert sw["relevant_own_share"] == pytest.approx((1.0 + 0.5) / 2)
    assert sw["pool_share"] == pytest.approx(0.4) and yo["pool_share"] == pytest.approx(0.6)
    assert yo["own_share@4"] == 1.0 and yo["relevant_own_share"] == 1.0


def test_metric_names_are_read_in_one_place() -> None:
    from polyret.errors import ConfigError
    from polyret.evaluation.metrics import parse_metric

    assert parse_metric("ndcg@10") == ("ndcg", 10) and parse_metric("ap") == ("ap", None)
    per_query = evaluate_run(QRELS, make_run(), ["ndcg@5", "ap", "accuracy@1"])
    assert set(next(iter(per_query.values()))) == {"ndcg@5", "ap", "accuracy@1"}
    with pytest.raises(ConfigError, match=r"unknown metric 'ndcg'.*ndcg@k"):
        evaluate_run(QRELS, make_run(), ["ndcg"])
    with pytest.raises(ConfigError, match="unknown metric 'rank_distance'"):
        evaluate_run(QRELS, make_run(), ["rank_distance"])  # not a trec_eval measure
