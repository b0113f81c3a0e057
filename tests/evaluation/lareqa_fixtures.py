"""Tiny LAReQA-format datasets written by tests (no real data needed).

``write_hand_dataset`` writes the 2-language set whose scores and metrics are
worked out by hand in ``tests/evaluation/test_lareqa.py``; ``write_random_dataset``
writes a larger random one (MLQA-R-like: ids shared by some languages only).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from polyret.evaluation import LareqaEmbeddings


def paragraph(sentences: list[str], qas: list[tuple[str, str, int]]) -> dict[str, Any]:
    """A paragraph dict; ``qas``: (id, question, answer sentence index)."""
    context, breaks = "", []
    for s in sentences:
        if context:
            context += " "
        breaks.append([len(context), len(context) + len(s)])
        context += s
    out_qas = []
    for qid, question, sent in qas:
        start = breaks[sent][0] + 1  # inside the sentence, not at its first character
        out_qas.append(
            {
                "id": qid,
                "question": question,
                "answers": [{"text": context[start : start + 2], "answer_start": start}],
            }
        )
    return {"context": context, "sentence_breaks": breaks, "sentences": sentences, "qas": out_qas}


def write_lang(
    folder: Path, lang: str, articles: list[dict[str, Any]], version: Any = "1.1"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lang}.json"
    path.write_text(
        json.dumps({"version": version, "data": articles}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return path


def write_hand_dataset(folder: Path) -> Path:
    """en: 1 article, paragraphs of 2 + 2 sentences, questions q1 q2 q3; de: 3 + 2 sentences, q1 q2.

    Candidates (pool order, de block first): de0..de4, en0..en3.
    Answers: q1 -> en1, de2; q2 -> en2, de3; q3 -> en3 (absent in de).
    """
    write_lang(
        folder,
        "en",
        [
            {
                "title": "A",
                "paragraphs": [
                    paragraph(["Alpha one.", "Alpha two."], [("q1", "Which alpha?", 1)]),
                    paragraph(
                        ["Beta one.", "Beta two."],
                        [("q2", "Which beta?", 0), ("q3", "Beta again?", 1)],
                    ),
                ],
            }
        ],
    )
    write_lang(
        folder,
        "de",
        [
            {
                "title": "A",
                "paragraphs": [
                    paragraph(
                        ["Alpha eins.", "Alpha zwei.", "Alpha drei."], [("q1", "Welches Alpha?", 2)]
                    ),
                    paragraph(["Beta eins.", "Beta zwei."], [("q2", "Welches Beta?", 0)]),
                ],
            }
        ],
        version=1.0,
    )
    (folder / "LICENSE").write_text("not data\n", encoding="utf-8")
    return folder


def write_random_dataset(
    folder: Path,
    langs: tuple[str, ...] = ("aa", "bb", "cc"),
    *,
    n_articles: int = 3,
    seed: int = 0,
    share: float = 0.7,
) -> Path:
    """Random sentences; every id is in a random subset (>= 1) of the languages, with
    language-specific paragraph structure, as in MLQA-R."""
    rng = random.Random(seed)
    ids = [f"id{i:03d}" for i in range(n_articles * 6)]
    holders = {
        qid: [lang for lang in langs if rng.random() < share] or [rng.choice(langs)] for qid in ids
    }
    for lang in langs:
        mine = [qid for qid in ids if lang in holders[qid]]
        articles = []
        for a in range(n_articles):
            paragraphs = []
            group = mine[a::n_articles]
            for p in range(rng.randint(1, 3)):
                n_sent = rng.randint(1, 5)
                sents = [
                    f"{lang} s{a}.{p}.{s} {rng.choice('xyz') * rng.randint(1, 3)}."
                    for s in range(n_sent)
                ]
                qas = [
                    (qid, f"{lang} question {qid}?", rng.randrange(n_sent)) for qid in group[p::3]
                ]
                paragraphs.append(paragraph(sents, qas))
            articles.append({"title": f"{lang}-{a}", "paragraphs": paragraphs})
        write_lang(folder, lang, articles)
    return folder


# Scores of the hand dataset: candidate j of the pool (de0..de4, en0..en3) is the
# one-hot vector e_j, so a query's score for candidate j is its j-th entry.
HAND_QUERIES = {
    "en": [
        [0.9, 0.1, 0.5, 0.2, 0.3, 0.8, 0.7, 0.6, 0.4],  # q1: answers en1, de2
        [0.1, 0.2, 0.3, 0.6, 0.6, 0.6, 0.0, 0.6, 0.5],  # q2: answers en2, de3 (ties at 0.6)
        [0.2, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.3],  # q3: answer en3 only (absent in de)
    ],
    "de": [
        [0.3, 0.2, 0.1, 0.0, 0.0, 0.5, 0.9, 0.4, 0.4],  # q1
        [0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0],  # q2 (ties at 0.0)
    ],
}


def hand_embeddings() -> LareqaEmbeddings:
    eye = torch.eye(9)
    queries = {lang: torch.tensor(rows) for lang, rows in HAND_QUERIES.items()}
    return LareqaEmbeddings(queries, {"de": eye[:5], "en": eye[5:]})
