from __future__ import annotations

from pathlib import Path

import pytest
import pytrec_eval

from polyret.data.trec import read_qrels, read_run, trec_order, write_qrels, write_run
from polyret.errors import DataError


def test_run_round_trip_is_exact(tmp_path: Path) -> None:
    run = {"q1": {"d1": 0.1 + 0.2, "d2": -1e-300, "d3": 0.3}, "q2": {"x": 1.0}}
    write_run(tmp_path / "a.run", run, tag="t")
    assert read_run(tmp_path / "a.run") == run
    lines = (tmp_path / "a.run").read_text().splitlines()
    # ranks follow trec_eval's order; repr keeps 0.1 + 0.2 apart from 0.3
    assert lines[:2] == ["q1 Q0 d1 1 0.30000000000000004 t", "q1 Q0 d3 2 0.3 t"]


def test_run_from_iterable(tmp_path: Path) -> None:
    write_run(tmp_path / "b.run", iter([("q", iter([("a", 1.0), ("b", 2.0)]))]))
    assert read_run(tmp_path / "b.run") == {"q": {"a": 1.0, "b": 2.0}}


def test_qrels_round_trip(tmp_path: Path) -> None:
    qrels = {"q1": {"d2": 1, "d1": 0}, "q2": {"x": 2}}
    write_qrels(tmp_path / "a.qrels", qrels)
    assert read_qrels(tmp_path / "a.qrels") == qrels


def test_trec_order_matches_trec_eval() -> None:
    # one relevant document among equal scores: its rank tells trec_eval's tie order
    docs = [("a", 0.5), ("c", 0.5), ("b", 0.5), ("aa", 0.5), ("z", 0.1)]
    ordered = [d for d, _ in trec_order(docs)]
    assert ordered == ["c", "b", "aa", "a", "z"]
    for rank, docno in enumerate(ordered, start=1):
        ev = pytrec_eval.RelevanceEvaluator({"q": {docno: 1}}, {"recip_rank"})
        assert ev.evaluate({"q": dict(docs)})["q"]["recip_rank"] == pytest.approx(1 / rank)


@pytest.mark.parametrize(
    ("text", "reader", "words"),
    [
        ("q Q0 d 1 0.5\n", read_run, "6 columns"),
        ("q Q0 d 1 high t\n", read_run, "not a number"),
        ("q Q0 d 1 0.5 t\nq Q0 d 2 0.4 t\n", read_run, "appears twice"),
        ("q 0 d\n", read_qrels, "4 columns"),
        ("q 0 d yes\n", read_qrels, "not an integer"),
    ],
)
def test_bad_lines(tmp_path: Path, text: str, reader, words: str) -> None:
    path = tmp_path / "f.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=words) as info:
        reader(path)
    assert info.value.path == str(path) and info.value.record.startswith("line ")


def test_missing_file_and_bad_tokens(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_run(tmp_path / "none.run")
    with pytest.raises(DataError, match="whitespace"):
        write_run(tmp_path / "x.run", {"q 1": {"d": 1.0}})
    assert not (tmp_path / "x.run").exists()  # atomic: nothing half-written
