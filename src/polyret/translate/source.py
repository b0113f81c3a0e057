"""Read SQuAD-format QA (v1.1 or v2.0, with or without LAReQA ``sentence_breaks``).

Each paragraph becomes a list of sentences and each question the index of its answer
sentence: the sentence holding ``answers[0].answer_start``. ``sentence_breaks``, when
present, are authoritative (``sentences`` is ignored: in XQuAD-R tr.json two of them
disagree with the breaks); otherwise pysbd splits the context. Whitespace inside a
sentence is collapsed to single spaces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from polyret.errors import DataError
from polyret.io import sha256_file
from polyret.translate.splitting import normalize_space, split_sentences

__all__ = ["SourceParagraph", "SourceQuestion", "SourceSet", "load_squad"]


class SourceQuestion(NamedTuple):
    """A question and the index of its answer sentence in its paragraph."""

    id: str
    question: str
    answer_sentence: int


class SourceParagraph(NamedTuple):
    """A paragraph as sentences; ``article`` indexes :attr:`SourceSet.titles`."""

    article: int
    sentences: tuple[str, ...]
    qas: tuple[SourceQuestion, ...]


@dataclass
class SourceSet:
    """A whole input file, flattened to paragraphs in file order."""

    path: Path
    lang: str
    sha256: str
    version: str
    titles: list[str]
    paragraphs: list[SourceParagraph]
    split_paragraphs: int = 0
    """Paragraphs that had no ``sentence_breaks`` and were split by pysbd."""
    skipped_impossible: int = 0
    """SQuAD 2.0 questions marked ``is_impossible`` (no answer sentence), left out."""

    @property
    def n_questions(self) -> int:
        return sum(len(p.qas) for p in self.paragraphs)


def _expect(
    value: Any, kind: type | tuple[type, ...], what: str, path: Path, record: str, field: str
) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(
            f"expected {what} ({names}), got {type(value).__name__}",
            path=path,
            record=record,
            field=field,
        )
    return value


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the file: {exc}", path=path) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=path
        ) from exc


def _breaks(raw: Any, context: str, path: Path, record: str) -> list[tuple[int, int]]:
    _expect(raw, list, "a list of [start, end] pairs", path, record, "sentence_breaks")
    spans: list[tuple[int, int]] = []
    prev_end = 0
    for i, pair in enumerate(raw):
        ok = (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        )
        if not ok:
            raise DataError(
                f"break {i} is {pair!r}, not a [start, end] pair of integers",
                path=path,
                record=record,
                field="sentence_breaks",
            )
        start, end = pair
        if not prev_end <= start < end <= len(context):
            raise DataError(
                f"break {i} {pair} is empty, out of order or outside the context "
                f"(previous end {prev_end}, context length {len(context)})",
                path=path,
                record=record,
                field="sentence_breaks",
            )
        spans.append((start, end))
        prev_end = end
    return spans


def load_squad(path: str | Path, lang: str) -> SourceSet:
    """Read and check a SQuAD-format file; every problem is one :class:`DataError`."""
    path = Path(path)
    obj = _read_json(path)
    _expect(obj, dict, "a JSON object", path, "top level", "data")
    data = _expect(obj.get("data"), list, "a list of articles", path, "top level", "data")
    version = obj.get("version", "1.1")
    titles: list[str] = []
    paragraphs: list[SourceParagraph] = []
    seen: dict[str, str] = {}
    split = impossible = 0
    for ai, article in enumerate(data):
        record = f"article {ai}"
        _expect(article, dict, "an article object", path, record, "data")
        title = _expect(article.get("title", ""), str, "a string", path, record, "title")
        titles.append(title)
        paras = _expect(article.get("paragraphs"), list, "a list", path, record, "paragraphs")
        for pi, para in enumerate(paras):
            record = f"article {ai} paragraph {pi}"
            _expect(para, dict, "a paragraph object", path, record, "paragraphs")
            context = _expect(para.get("context"), str, "a string", path, record, "context")
            if para.get("sentence_breaks") is None:
                spans = split_sentences(context, lang)
                split += 1
            else:
                spans = _breaks(para["sentence_breaks"], context, path, record)
            sentences = tuple(normalize_space(context[s:e]) for s, e in spans)
            for i, sentence in enumerate(sentences):
                if not sentence:
                    raise DataError(
                        f"sentence {i} {list(spans[i])} is only whitespace",
                        path=path,
                        record=record,
                        field="sentence_breaks",
                    )
            qas: list[SourceQuestion] = []
            for qi, qa in enumerate(
                _expect(para.get("qas", []), list, "a list", path, record, "qas")
            ):
                qrecord = f"{record} question {qi}"
                _expect(qa, dict, "a question object", path, qrecord, "qas")
                qid = _expect(qa.get("id"), (str, int), "an id", path, qrecord, "id")
                qid = str(qid)
                qrecord = f"qas id {qid}"
                if qid in seen:
                    raise DataError(
                        f"duplicate id (first seen in {seen[qid]})",
                        path=path,
                        record=qrecord,
                        field="id",
                    )
                seen[qid] = record
                question = normalize_space(
                    _expect(qa.get("question"), str, "a string", path, qrecord, "question")
                )
                if not question:
                    raise DataError("empty question", path=path, record=qrecord, field="question")
                if qa.get("is_impossible"):
                    impossible += 1
                    continue
                answers = _expect(qa.get("answers"), list, "a list", path, qrecord, "answers")
                if not answers:
                    raise DataError(
                        "no answer (an unanswerable question needs is_impossible: true)",
                        path=path,
                        record=qrecord,
                        field="answers",
                    )
                answer = _expect(answers[0], dict, "an answer object", path, qrecord, "answers")
                start = _expect(
                    answer.get("answer_start"), int, "an integer", path, qrecord, "answer_start"
                )
                index = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
                if index is None:
                    raise DataError(
                        f"answer_start {start} lies outside every sentence "
                        f"({len(spans)} sentences, context length {len(context)})",
                        path=path,
                        record=qrecord,
                        field="answer_start",
                    )
                qas.append(SourceQuestion(qid, question, index))
            paragraphs.append(SourceParagraph(ai, sentences, tuple(qas)))
    return SourceSet(
        path=path,
        lang=lang,
        sha256=sha256_file(path),
        version=str(version),
        titles=titles,
        paragraphs=paragraphs,
        split_paragraphs=split,
        skipped_impossible=impossible,
    )
