from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from polyret.data.beir import (
    Document,
    Query,
    iter_jsonl_documents,
    load_beir,
    read_beir_qrels,
    read_beir_queries,
)
from polyret.errors import DataError

CORPUS = [
    {"_id": "d1", "title": "Paris", "text": "Paris is the capital of France.", "metadata": {}},
    {"_id": "d2", "title": "", "text": "Berlin is the capital of Germany."},
    {"_id": 3, "text": "Madrid is the capital of Spain."},  # int id, no title
]
QUERIES = [
    {"_id": "q1", "text": "capital of France", "metadata": {}},
    {"_id": "q2", "text": "capital of Spain"},
    {"_id": "q3", "text": "unjudged in this split"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t3\t2\nq2\td2\t0\n"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "scifact"
    write_jsonl(folder / "corpus.jsonl", CORPUS)
    write_jsonl(folder / "queries.jsonl", QUERIES)
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(QRELS)
    return folder


def test_load_beir(beir: Path) -> None:
    collection = load_beir(beir, "test", lang="en")
    assert (
        collection.name == "beir:scifact" and collection.split == "test" and collection.lang == "en"
    )
    assert collection.queries == (
        Query("q1", "capital of France", "en"),
        Query("q2", "capital of Spain", "en"),
    )
    assert collection.qrels == {"q1": {"d1": 1}, "q2": {"3": 2, "d2": 0}}
    docs = list(collection.iter_documents())
    assert docs[0] == Document("d1", "Paris", "Paris is the capital of France.", "en")
    assert docs[2] == Document("3", "", "Madrid is the capital of Spain.", "en")
    assert collection.corpus_key.startswith("beir-scifact-")
    assert collection.corpus_signature() == [
        {"name": "corpus.jsonl", "size": (beir / "corpus.jsonl").stat().st_size}
    ]


def test_gzipped_corpus(beir: Path) -> None:
    (beir / "corpus.jsonl").unlink()
    write_jsonl(beir / "corpus.jsonl.gz", CORPUS)
    assert [d.docid for d in load_beir(beir).iter_documents()] == ["d1", "d2", "3"]


@pytest.mark.parametrize(
    ("line", "record", "field", "message"),
    [
        ('{"_id": "d9", "text": "ok"', "line 2", None, "invalid JSON"),
        ('["d9", "text"]', "line 2", None, "expected a JSON object, got list"),
        ('{"text": "no id"}', "line 2", "_id", "missing"),
        ('{"_id": "d 9", "text": "x"}', "line 2", "_id", "contains whitespace"),
        ('{"_id": "d9", "title": "t"}', "line 2", "text", "missing"),
        ('{"_id": "d9", "text": 5}', "line 2", "text", "expected a string, got int"),
    ],
)
def test_corpus_errors_name_file_line_and_field(
    tmp_path: Path, line: str, record: str, field: str | None, message: str
) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps(CORPUS[0]) + "\n" + line + "\n")
    with pytest.raises(DataError, match=message) as info:
        list(iter_jsonl_documents(path))
    assert (
        info.value.path == str(path) and info.value.record == record and info.value.field == field
    )
    assert str(info.value).startswith(f"{path}: {record}: ")


def test_corrupt_gzip_and_bad_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "corpus.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read the file") as info:
        list(iter_jsonl_documents(bad))
    assert info.value.path == str(bad)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"_id": "a", "text": "ok"}\n{"_id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not valid UTF-8") as info:
        list(iter_jsonl_documents(latin))
    assert info.value.record == "line 2"


def test_queries_errors(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "queries.jsonl", [QUERIES[0], QUERIES[0]])
    with pytest.raises(DataError, match="duplicate query id 'q1'") as info:
        read_beir_queries(path)
    assert info.value.record == "line 2" and info.value.field == "_id"
    path = write_jsonl(tmp_path / "q2.jsonl", [{"_id": "q", "text": "  "}])
    with pytest.raises(DataError, match="empty query text"):
        read_beir_queries(path)


@pytest.mark.parametrize(
    ("content", "record", "field", "message"),
    [
        ("q1\td1\t1\n", "line 1", None, "expected the header"),
        ("query-id\tcorpus-id\tscore\nq1\td1\n", "line 2", None, "expected 3 tab-separated fields"),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", "line 2", "score", "not an integer"),
        (
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n",
            "line 3",
            None,
            "duplicate judgment",
        ),
        ("", None, None, "empty qrels file"),
    ],
)
def test_qrels_errors(
    tmp_path: Path, content: str, record: str | None, field: str | None, message: str
) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_beir_qrels(path)
    assert info.value.record == record and info.value.field == field


def test_qrels_accept_integral_floats(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1.0\n")
    assert read_beir_qrels(path) == {"q1": {"d1": 1}}


def test_folder_errors(beir: Path) -> None:
    with pytest.raises(DataError, match="no qrels for split 'dev'; splits found: test"):
        load_beir(beir, "dev")
    (beir / "qrels" / "test.tsv").write_text(QRELS + "q9\td1\t1\n")
    with pytest.raises(
        DataError, match=r"1 judged query id\(s\) have no query text, e\.g\. 'q9'"
    ) as info:
        load_beir(beir, "test")
    assert info.value.record == "line 5"
    (beir / "queries.jsonl").unlink()
    with pytest.raises(DataError, match=r"no queries\.jsonl"):
        load_beir(beir, "test")
    with pytest.raises(DataError, match="BEIR folder not found"):
        load_beir(beir / "missing")
