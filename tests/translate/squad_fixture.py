"""A small SQuAD-format fixture: two articles, five paragraphs, seven answerable questions."""

from __future__ import annotations

from typing import Any

REPEATED = "Paris is the capital of France."

# Five paragraphs in two articles: paragraph 0 has no sentence_breaks (pysbd splits it),
# the others have them (one with a two-space gap); a sentence and a question repeat
# across paragraphs; one SQuAD 2.0 unanswerable question is left out.
SQUAD: dict[str, Any] = {
    "version": "1.1",
    "data": [
        {
            "title": "Panthers",
            "paragraphs": [
                {
                    "context": "The Panthers defense gave up just 308 points. Dr. Short led the team in "
                    "sacks with 11. " + REPEATED,
                    "qas": [
                        {
                            "id": "q0",
                            "question": "How many points did the defense give up?",
                            "answers": [{"text": "308", "answer_start": 34}],
                        },
                        {
                            "id": "q1",
                            "question": "What is the capital of France?",
                            "answers": [{"text": "Paris", "answer_start": 87}],
                        },
                        {
                            "id": "q1x",
                            "question": "Who is the king of France?",
                            "answers": [],
                            "is_impossible": True,
                        },
                    ],
                },
                {
                    "context": "Kony Ealy had 5 sacks.  He started 9 games.",
                    "sentence_breaks": [[0, 22], [24, 43]],
                    "qas": [
                        {
                            "id": "q2",
                            "question": "How many games did Ealy start?",
                            "answers": [{"text": "9", "answer_start": 35}],
                        },
                    ],
                },
            ],
        },
        {
            "title": "Paris",
            "paragraphs": [
                {
                    "context": REPEATED + " It lies on the Seine river.",
                    "sentence_breaks": [[0, 31], [32, 59]],
                    "qas": [
                        {
                            "id": "q3",
                            "question": "What is the capital of France?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {
                            "id": "q4",
                            "question": "Which river flows through Paris?",
                            "answers": [{"text": "the Seine", "answer_start": 43}],
                        },
                    ],
                },
                {
                    "context": "The city has two million people. Its metro opened in 1900. "
                    "The Louvre is a museum.",
                    "sentence_breaks": [[0, 32], [33, 58], [59, 82]],
                    "qas": [
                        {
                            "id": "q5",
                            "question": "When did the metro open?",
                            "answers": [{"text": "1900", "answer_start": 53}],
                        },
                        {
                            "id": "q6",
                            "question": "What is the Louvre?",
                            "answers": [{"text": "a museum", "answer_start": 73}],
                        },
                    ],
                },
                {
                    "context": "Paris hosted the Olympics in 1924.",
                    "sentence_breaks": [[0, 34]],
                    "qas": [],
                },
            ],
        },
    ],
}

# (question id, index of its answer sentence), in file order.
ANSWER_SENTENCES = [("q0", 0), ("q1", 2), ("q2", 1), ("q3", 0), ("q4", 1), ("q5", 1), ("q6", 2)]
SENTENCE_COUNTS = [3, 2, 2, 3, 1]


def fixture_texts() -> list[str]:
    out: list[str] = []
    for article in SQUAD["data"]:
        for para in article["paragraphs"]:
            out.append(para["context"])
            out += [q["question"] for q in para["qas"]]
    return out
