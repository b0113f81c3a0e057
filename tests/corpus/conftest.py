"""Small corpora written in the official MIRACL and BEIR layouts, and the tiny model loaded once."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

WORDS = {
    "sw": [
        "maji",
        "mto",
        "ziwa",
        "mlima",
        "jua",
        "mvua",
        "shamba",
        "mti",
        "ndege",
        "samaki",
        "nyumba",
        "soko",
        "barabara",
        "mji",
        "kijiji",
    ],
    "yo": [
        "omi",
        "odo",
        "oke",
        "oorun",
        "ojo",
        "oko",
        "igi",
        "eye",
        "eja",
        "ile",
        "oja",
        "ona",
        "ilu",
        "abule",
        "oba",
    ],
    "en": [
        "water",
        "river",
        "lake",
        "mountain",
        "sun",
        "rain",
        "farm",
        "tree",
        "bird",
        "fish",
        "house",
        "market",
        "road",
        "city",
        "village",
    ],
}


def _passage(rng: random.Random, words: list[str], n: int = 12) -> str:
    return " ".join(rng.choice(words) for _ in range(n))


def write_miracl(
    root: Path, lang: str, *, num_docs: int = 40, num_queries: int = 6, seed: int = 0
) -> dict:
    """Write one MIRACL language in the official layout; returns what was written (for assertions).

    The corpus is split over ``docs-0.jsonl.gz`` and ``docs-1.jsonl.gz``; docids are ``<article>#<passage>``.
    """
    rng = random.Random(f"{lang}-{seed}")
    words = WORDS[lang]
    docs = [
        {
            "docid": f"{i // 3}#{i % 3}",
            "title": f"{words[i % len(words)]} {i // 3}",
            "text": _passage(rng, words),
        }
        for i in range(num_docs)
    ]
    corpus_dir = root / "miracl-corpus" / f"miracl-corpus-v1.0-{lang}"
    corpus_dir.mkdir(parents=True)
    half = num_docs // 2
    for index, chunk in enumerate((docs[:half], docs[half:])):
        with gzip.open(corpus_dir / f"docs-{index}.jsonl.gz", "wt", encoding="utf-8") as f:
            for doc in chunk:
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    topics_dir = root / "miracl" / f"miracl-v1.0-{lang}"
    (topics_dir / "topics").mkdir(parents=True)
    (topics_dir / "qrels").mkdir(parents=True)
    queries, qrels = {}, {}
    for q in range(num_queries):
        qid = str(100 + q)
        relevant = rng.sample(range(num_docs), 3)
        # The query repeats words of its first relevant passage, so even a random encoder finds some.
        queries[qid] = " ".join(docs[relevant[0]]["text"].split()[:6])
        qrels[qid] = {
            docs[relevant[0]]["docid"]: 1,
            docs[relevant[1]]["docid"]: 1,
            docs[relevant[2]]["docid"]: 0,
        }
    (topics_dir / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv").write_text(
        "".join(f"{qid}\t{text}\n" for qid, text in queries.items()), encoding="utf-8"
    )
    (topics_dir / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv").write_text(
        "".join(
            f"{qid}\tQ0\t{d}\t{rel}\n" for qid, docs_ in qrels.items() for d, rel in docs_.items()
        ),
        encoding="utf-8",
    )
    return {"docs": docs, "queries": queries, "qrels": qrels}


def write_beir(
    folder: Path, *, num_docs: int = 30, num_queries: int = 5, split: str = "test"
) -> dict:
    """Write a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)."""
    rng = random.Random(1)
    words = WORDS["en"]
    docs = [
        {"_id": f"doc{i}", "title": f"title {i}", "text": _passage(rng, words)}
        for i in range(num_docs)
    ]
    folder.mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps({**doc, "metadata": {}}) + "\n")
    queries, qrels = {}, {}
    for q in range(num_queries + 2):  # two queries without judgments in this split
        qid = f"q{q}"
        target = rng.randrange(num_docs)
        queries[qid] = " ".join(docs[target]["text"].split()[:5])
        if q < num_queries:
            qrels[qid] = {docs[target]["_id"]: 2, docs[(target + 1) % num_docs]["_id"]: 1}
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text, "metadata": {}}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(
            f"{qid}\t{d}\t{rel}\n" for qid, docs_ in qrels.items() for d, rel in docs_.items()
        ),
        encoding="utf-8",
    )
    return {"docs": docs, "queries": queries, "qrels": qrels}


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):
    """The tiny model, loaded once through polyret's own loader."""
    from polyret.models import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture
def miracl_data(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """A MIRACL data root with two languages (sw, yo) in the official layout."""
    root = tmp_path / "data"
    written = {
        lang: write_miracl(root, lang, num_docs=40 if lang == "sw" else 31) for lang in ("sw", "yo")
    }
    return root, written


@pytest.fixture
def beir_data(tmp_path: Path) -> tuple[Path, dict]:
    """A BEIR folder named ``tinybeir``."""
    folder = tmp_path / "tinybeir"
    return folder, write_beir(folder)
