"""Write small, valid, parallel LAReQA-format files for tests (no real data needed)."""

from __future__ import annotations

import json
from pathlib import Path

# A tiny "translation" of each word per language, so parallel texts differ by language.
_WORDS = {
    "en": [
        "river",
        "city",
        "king",
        "song",
        "winter",
        "bridge",
        "garden",
        "ship",
        "forest",
        "tower",
        "island",
        "school",
    ],
    "de": [
        "Fluss",
        "Stadt",
        "König",
        "Lied",
        "Winter",
        "Brücke",
        "Garten",
        "Schiff",
        "Wald",
        "Turm",
        "Insel",
        "Schule",
    ],
    "es": [
        "río",
        "ciudad",
        "rey",
        "canción",
        "invierno",
        "puente",
        "jardín",
        "barco",
        "bosque",
        "torre",
        "isla",
        "escuela",
    ],
    "ru": [
        "река",
        "город",
        "король",
        "песня",
        "зима",
        "мост",
        "сад",
        "корабль",
        "лес",
        "башня",
        "остров",
        "школа",
    ],
}
_FRAMES = {
    "en": ("The {w} number {n} is old.", "Which {w} is number {n}?"),
    "de": ("Der {w} Nummer {n} ist alt.", "Welcher {w} ist Nummer {n}?"),
    "es": ("El {w} número {n} es viejo.", "¿Qué {w} es el número {n}?"),
    "ru": ("{w} номер {n} старый.", "Какой {w} номер {n}?"),
}


def write_parallel_lareqa(
    folder: str | Path,
    langs: tuple[str, ...] = ("en", "de", "es"),
    *,
    articles: int = 6,
    paragraphs: int = 2,
    sentences: int = 3,
    questions: int = 2,
) -> Path:
    """Write ``<lang>.json`` files whose questions share ids across languages (like XQuAD-R).

    Question ``q`` of a paragraph asks about sentence ``q`` of it; every id exists in every
    language, and article titles are the same English titles everywhere.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        words = _WORDS[lang]
        sent_frame, q_frame = _FRAMES[lang]
        data = []
        for a in range(articles):
            paras = []
            for p in range(paragraphs):
                sents = []
                for s in range(sentences):
                    n = (a * paragraphs + p) * sentences + s
                    sents.append(sent_frame.format(w=words[n % len(words)], n=n))
                breaks, context = [], ""
                for s in sents:
                    start = len(context) + (1 if context else 0)
                    context = f"{context} {s}" if context else s
                    breaks.append([start, start + len(s)])
                qas = []
                for q in range(min(questions, sentences)):
                    n = (a * paragraphs + p) * sentences + q
                    qas.append(
                        {
                            "id": f"q{a}-{p}-{q}",
                            "question": q_frame.format(w=words[n % len(words)], n=n),
                            "answers": [{"text": sents[q], "answer_start": breaks[q][0]}],
                        }
                    )
                paras.append(
                    {"context": context, "sentence_breaks": breaks, "sentences": sents, "qas": qas}
                )
            data.append({"title": f"Article_{a}", "paragraphs": paras})
        (folder / f"{lang}.json").write_text(
            json.dumps({"version": "1.1", "data": data}, ensure_ascii=False), encoding="utf-8"
        )
    return folder


# lang -> articles: (title, paragraphs); paragraph: (sentences, questions (id, answer sentence))
Article = tuple[str, list[tuple[list[str], list[tuple[str, int]]]]]


def write_lareqa(folder: Path, lang: str, articles: list[Article]) -> None:
    data = []
    for title, paragraphs in articles:
        paras = []
        for sentences, questions in paragraphs:
            context = " ".join(sentences)
            breaks, start = [], 0
            for s in sentences:
                breaks.append([start, start + len(s)])
                start += len(s) + 1
            qas = [
                {
                    "id": qid,
                    "question": f"{lang} question {qid}?",
                    "answers": [{"text": sentences[i][:3], "answer_start": breaks[i][0]}],
                }
                for qid, i in questions
            ]
            paras.append(
                {"context": context, "sentence_breaks": breaks, "sentences": sentences, "qas": qas}
            )
        data.append({"title": title, "paragraphs": paras})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}.json").write_text(json.dumps({"version": "1.1", "data": data}))


def sentences(lang: str, tag: str, n: int = 3) -> list[str]:
    return [f"{lang} {tag} s{i}." for i in range(n)]


def write_mlqa_like(root: Path) -> Path:
    """MLQA-like: titles differ per language; ids q1..q6, each in 1-3 languages.

    en: Prime_number (q1, q2), Alpha (q3, q4), Beta (q5), Gamma (q6)
    de: Primzahl (q1), Alpha DE (q3, q5: links en Alpha and en Beta), Gamma (q6)
    fr: Alpha FR (q3, q4)
    """
    write_lareqa(
        root,
        "en",
        [
            ("Prime_number", [(sentences("en", "prime"), [("q1", 0), ("q2", 2)])]),
            (
                "Alpha",
                [(sentences("en", "alpha"), [("q3", 1)]), (sentences("en", "a2"), [("q4", 0)])],
            ),
            ("Beta", [(sentences("en", "beta"), [("q5", 2)])]),
            ("Gamma", [(sentences("en", "gamma"), [("q6", 0)])]),
        ],
    )
    write_lareqa(
        root,
        "de",
        [
            ("Primzahl", [(sentences("de", "prime"), [("q1", 1)])]),
            ("Alpha DE", [(sentences("de", "alpha", 4), [("q3", 3), ("q5", 0)])]),
            ("Gamma", [(sentences("de", "gamma"), [("q6", 2)])]),
        ],
    )
    write_lareqa(root, "fr", [("Alpha FR", [(sentences("fr", "alpha"), [("q3", 0), ("q4", 1)])])])
    return root
