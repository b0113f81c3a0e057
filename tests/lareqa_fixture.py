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
