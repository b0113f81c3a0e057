from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from polyret.data.beir import Document, Query
from polyret.data.miracl import (
    MIRACL_LANGUAGES,
    available_languages,
    load_miracl,
    locate_miracl,
    miracl_corpus_collection,
    read_topics,
    read_trec_qrels,
)
from polyret.errors import DataError

TOPICS = "0\tWhat is the longest river in Africa?\n12\tWho wrote Things Fall Apart?\n30\tUnjudged topic\n"
QRELS = "0\tQ0\t1234#0\t1\n0\tQ0\t1234#1\t0\n12\tQ0\t99#3\t1\n"


def doc(docid: str, title: str = "Nile", text: str = "The Nile is a river.") -> dict:
    return {"docid": docid, "title": title, "text": text}


def write_language(root: Path, lang: str, split: str = "dev", *, flat: bool = False) -> None:
    """The official layout: miracl/miracl-v1.0-<lang>/{topics,qrels}/ and miracl-corpus/.../docs-<i>.jsonl.gz."""
    topics_dir = (root if flat else root / "miracl") / f"miracl-v1.0-{lang}"
    (topics_dir / "topics").mkdir(parents=True, exist_ok=True)
    (topics_dir / "qrels").mkdir(parents=True, exist_ok=True)
    (topics_dir / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv").write_text(
        TOPICS, encoding="utf-8"
    )
    (topics_dir / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv").write_text(
        QRELS, encoding="utf-8"
    )
    corpus_dir = (root if flat else root / "miracl-corpus") / f"miracl-corpus-v1.0-{lang}"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    # docs-10 sorts after docs-2 by number, not by name.
    shards = {
        0: [doc("1234#0"), doc("1234#1")],
        2: [doc("99#3", "Achebe", "Chinua Achebe wrote it.")],
        10: [doc("7#0")],
    }
    for number, rows in shards.items():
        with gzip.open(corpus_dir / f"docs-{number}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def test_load_miracl_official_layout(tmp_path: Path) -> None:
    write_language(tmp_path, "sw")
    collection = load_miracl("sw", "dev", tmp_path)
    assert collection.name == "miracl-v1.0-sw" and collection.lang == "sw"
    assert collection.queries == (
        Query("0", "What is the longest river in Africa?", "sw"),
        Query("12", "Who wrote Things Fall Apart?", "sw"),
    )  # topic 30 has no judgments
    assert collection.qrels == {"0": {"1234#0": 1, "1234#1": 0}, "12": {"99#3": 1}}
    assert [p.name for p in collection.corpus_files] == [
        "docs-0.jsonl.gz",
        "docs-2.jsonl.gz",
        "docs-10.jsonl.gz",
    ]
    docs = list(collection.iter_documents())
    assert len(docs) == 4
    assert docs[0] == Document("1234#0", "Nile", "The Nile is a river.", "sw")
    assert docs[-1].docid == "7#0"
    assert collection.corpus_key == "miracl-corpus-v1.0-sw"
    assert miracl_corpus_collection("sw", tmp_path).corpus_files == collection.corpus_files


def test_repository_folders_may_be_the_root(tmp_path: Path) -> None:
    write_language(tmp_path, "yo", flat=True)
    assert len(load_miracl("yo", "dev", tmp_path).queries) == 2
    assert available_languages(tmp_path, "dev") == ["yo"]


def test_available_languages_and_env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for lang in ("sw", "te"):
        write_language(tmp_path, lang)
    write_language(tmp_path, "de", split="testA")
    assert available_languages(tmp_path, "dev") == ["sw", "te"]
    assert available_languages(tmp_path, "testA") == ["de"]
    monkeypatch.setenv("POLYRET_DATA", str(tmp_path))
    assert len(load_miracl("te").queries) == 2
    assert {"de", "yo", "sw"} <= set(MIRACL_LANGUAGES) and len(MIRACL_LANGUAGES) == 18


def test_missing_data_explains_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_miracl("sw", "dev", tmp_path)
    message = str(info.value)
    assert "cannot be downloaded" in message
    assert (
        "<data-dir>/miracl/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-<split>.tsv"
        in message
    )
    assert "<data-dir>/miracl-corpus/miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz" in message
    write_language(tmp_path, "sw")
    with pytest.raises(DataError, match="no qrels for split 'testB'"):
        (
            tmp_path / "miracl" / "miracl-v1.0-sw" / "topics" / "topics.miracl-v1.0-sw-testB.tsv"
        ).write_text(TOPICS)
        load_miracl("sw", "testB", tmp_path)
    with pytest.raises(DataError, match="unknown MIRACL split 'test'"):
        locate_miracl(tmp_path, "sw", "test")
    for shard in (tmp_path / "miracl-corpus" / "miracl-corpus-v1.0-sw").iterdir():
        shard.unlink()
    with pytest.raises(DataError, match=r"no docs-<i>.jsonl\(.gz\) files"):
        load_miracl("sw", "dev", tmp_path)


@pytest.mark.parametrize(
    ("content", "record", "field", "message"),
    [
        ("1\tok\n2\n", "line 2", None, "expected 2 tab-separated fields"),
        ("1\tok\n1\tagain\n", "line 2", "qid", "duplicate query id '1'"),
        ("1\t \n", "line 1", "query", "empty query"),
    ],
)
def test_topics_errors(
    tmp_path: Path, content: str, record: str, field: str | None, message: str
) -> None:
    path = tmp_path / "topics.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_topics(path)
    assert (
        info.value.record == record and info.value.field == field and info.value.path == str(path)
    )


@pytest.mark.parametrize(
    ("content", "record", "field", "message"),
    [
        ("1 Q0 d1 1\n1 Q0 d2\n", "line 2", None, "expected 4 fields"),
        ("1 Q0 d1 yes\n", "line 1", "relevance", "not an integer"),
        ("1 Q0 d1 1\n\n1 Q0 d1 0\n", "line 3", None, "duplicate judgment"),
    ],
)
def test_qrels_errors(
    tmp_path: Path, content: str, record: str, field: str | None, message: str
) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_trec_qrels(path)
    assert info.value.record == record and info.value.field == field


def test_judged_topic_missing_from_topics_names_the_qrels_line(tmp_path: Path) -> None:
    write_language(tmp_path, "sw")
    qrels = tmp_path / "miracl" / "miracl-v1.0-sw" / "qrels" / "qrels.miracl-v1.0-sw-dev.tsv"
    qrels.write_text(QRELS + "77\tQ0\t1234#0\t1\n")
    with pytest.raises(DataError, match=r"e\.g\. '77'") as info:
        load_miracl("sw", "dev", tmp_path)
    assert info.value.record == "line 4" and info.value.path == str(qrels)


def test_bad_corpus_line_names_the_shard(tmp_path: Path) -> None:
    write_language(tmp_path, "sw")
    shard = tmp_path / "miracl-corpus" / "miracl-corpus-v1.0-sw" / "docs-2.jsonl.gz"
    with gzip.open(shard, "wt", encoding="utf-8") as f:
        f.write(json.dumps(doc("1#0")) + "\n" + json.dumps({"title": "t", "text": "x"}) + "\n")
    with pytest.raises(DataError) as info:
        list(load_miracl("sw", "dev", tmp_path).iter_documents())
    assert (
        info.value.path == str(shard)
        and info.value.record == "line 2"
        and info.value.field == "docid"
    )
