"""LAReQA-format data (XQuAD-R, MLQA-R): one SQuAD-v1.1-style ``<lang>.json`` per language.

Each paragraph carries ``sentence_breaks`` and ``sentences``; every sentence of
every paragraph is one retrieval candidate (duplicate strings stay distinct).
A question's answer sentence is the sentence ``i`` of its own language's
paragraph with ``sentence_breaks[i][0] <= answer_start < sentence_breaks[i][1]``.
Questions with the same ``id`` in different files are parallel: XQuAD-R has
every id in all 11 languages, MLQA-R each id in 2-4 languages, and MLQA-R ids
need not share article or paragraph structure across languages.

A candidate's text is its ``sentences`` entry, not a slice of the context (two
slices in XQuAD-R's tr.json are off by one character).

Schema and quirks: ``shared/data/README.md``. Protocol: ``docs/evaluation-protocol.md``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from polyret.errors import DataError
from polyret.io import sha256_file

# The 11 languages of XQuAD-R (every question id is in all of them).
XQUAD_R_LANGUAGES: tuple[str, ...] = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")  # fmt: skip

__all__ = [
    "XQUAD_R_LANGUAGES",
    "Candidate",
    "LareqaDataset",
    "LareqaLanguage",
    "Question",
    "load_lareqa",
    "resolve_lareqa_folder",
]


class Candidate(NamedTuple):
    """One sentence of one paragraph of one language (duplicate strings stay distinct)."""

    lang: str
    index: int  # position in that language's candidate list
    article: int
    paragraph: int
    sentence: int
    title: str
    text: str
    context: str


class Question(NamedTuple):
    """One question; ``answer`` indexes the same language's candidates."""

    id: str
    lang: str
    text: str
    answer: int
    article: int
    paragraph: int
    title: str


@dataclass
class LareqaLanguage:
    """The questions and candidates of one ``<lang>.json``, in file order."""

    lang: str
    path: Path
    sha256: str
    questions: list[Question]
    candidates: list[Candidate]

    def __post_init__(self) -> None:
        self._by_id = {q.id: i for i, q in enumerate(self.questions)}

    def question(self, qid: str) -> Question | None:
        """The question with id ``qid``, or None when this language lacks it."""
        i = self._by_id.get(qid)
        return None if i is None else self.questions[i]

    def has(self, qid: str) -> bool:
        return qid in self._by_id


@dataclass
class LareqaDataset:
    """Languages of one LAReQA dataset, keyed and sorted by language code."""

    name: str
    root: Path
    languages: dict[str, LareqaLanguage]

    def __post_init__(self) -> None:
        self.languages = dict(sorted(self.languages.items()))
        # id -> the languages that hold it, in sorted language order
        self._id_langs: dict[str, list[str]] = {}
        for lang, data in self.languages.items():
            for q in data.questions:
                self._id_langs.setdefault(q.id, []).append(lang)

    @property
    def langs(self) -> list[str]:
        """Language codes, sorted."""
        return list(self.languages)

    @property
    def sha256s(self) -> dict[str, str]:
        return {lang: data.sha256 for lang, data in self.languages.items()}

    @property
    def question_ids(self) -> list[str]:
        """Every id in any language (first-seen order over sorted languages)."""
        return list(self._id_langs)

    def languages_of(self, qid: str) -> list[str]:
        """The languages whose file holds ``qid`` (sorted); empty when none."""
        return list(self._id_langs.get(qid, ()))

    def shared_ids(self, x: str, y: str) -> list[str]:
        """Ids of ``x``'s questions that ``y`` also holds, in ``x``'s order."""
        other = self.languages[y]
        return [q.id for q in self.languages[x].questions if other.has(q.id)]

    def answer_index(self, qid: str, lang: str) -> int | None:
        """Index of ``qid``'s answer sentence in ``lang``'s candidates, or None."""
        q = self.languages[lang].question(qid)
        return None if q is None else q.answer

    def answer_candidate(self, qid: str, lang: str) -> Candidate | None:
        """The answer sentence of ``qid`` in ``lang``, or None when ``lang`` lacks the id."""
        i = self.answer_index(qid, lang)
        return None if i is None else self.languages[lang].candidates[i]

    def question_articles(self) -> dict[str, str]:
        """Question id -> its article, the cluster that significance tests resample.

        Articles are linked across languages through the ids they share (in MLQA-R titles are
        localized and an id is in only 2-4 languages): two (language, article) pairs holding
        one id are one article. Each is named by its English title, or, without English,
        by the title in the first language (sorted) that holds it.
        """
        parent: dict[tuple[str, int], tuple[str, int]] = {}

        def root(node: tuple[str, int]) -> tuple[str, int]:
            while parent.setdefault(node, node) != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        first: dict[str, tuple[str, int]] = {}
        titles: dict[tuple[str, int], str] = {}
        for lang, data in self.languages.items():  # sorted languages
            for q in data.questions:
                node = (lang, q.article)
                titles.setdefault(node, q.title)
                parent[root(node)] = root(first.setdefault(q.id, node))
        names: dict[tuple[str, int], str] = {}
        for node in sorted(titles, key=lambda n: (n[0] != "en", n)):  # English first
            names.setdefault(root(node), titles[node])
        return {qid: names[root(node)] for qid, node in first.items()}

    @property
    def n_questions(self) -> int:
        return sum(len(d.questions) for d in self.languages.values())

    @property
    def n_candidates(self) -> int:
        return sum(len(d.candidates) for d in self.languages.values())

    def select_languages(self, languages: Iterable[str]) -> LareqaDataset:
        """The same dataset restricted to ``languages`` (each must be loaded)."""
        wanted = sorted(set(languages))
        missing = [lang for lang in wanted if lang not in self.languages]
        if missing:
            raise DataError(
                f"language(s) {', '.join(missing)} not loaded; loaded: {', '.join(self.langs)}",
                path=self.root,
            )
        return LareqaDataset(self.name, self.root, {lang: self.languages[lang] for lang in wanted})

    def select_articles(self, n: int) -> LareqaDataset:
        """The questions of ``n`` evenly spaced articles and the candidates of their paragraphs.

        Articles are those of the language with the most questions; the same question ids
        are kept in every language (for small evaluation budgets).
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        reference = max(self.languages.values(), key=lambda d: len(d.questions))
        articles = sorted({q.article for q in reference.questions})
        if n >= len(articles):
            return self
        chosen = {articles[(i * len(articles)) // n] for i in range(n)}
        return self.select_ids({q.id for q in reference.questions if q.article in chosen})

    def select_ids(self, ids: Collection[str], *, all_candidates: bool = False) -> LareqaDataset:
        """Keep only questions whose id is in ``ids`` (e.g. held-out articles for dev evaluation).

        By default each language keeps only the candidates of paragraphs that
        still hold a question, re-indexed; ``all_candidates=True`` keeps the full pool.
        """
        ids = set(ids)
        out: dict[str, LareqaLanguage] = {}
        for lang, data in self.languages.items():
            questions = [q for q in data.questions if q.id in ids]
            if all_candidates:
                out[lang] = LareqaLanguage(lang, data.path, data.sha256, questions, data.candidates)
                continue
            keep = {(q.article, q.paragraph) for q in questions}
            remap: dict[int, int] = {}
            candidates: list[Candidate] = []
            for c in data.candidates:
                if (c.article, c.paragraph) in keep:
                    remap[c.index] = len(candidates)
                    candidates.append(c._replace(index=len(candidates)))
            questions = [q._replace(answer=remap[q.answer]) for q in questions]
            out[lang] = LareqaLanguage(lang, data.path, data.sha256, questions, candidates)
        return LareqaDataset(self.name, self.root, out)


def resolve_lareqa_folder(folder: str | Path, data_dir: str | Path | None = None) -> Path:
    """A folder path as given, or a bare dataset name ("xquad-r") located by the registry."""
    path = Path(folder).expanduser()
    text = str(folder)
    if path.is_dir() or "/" in text or "\\" in text:
        return path
    from polyret.data.registry import locate_dataset

    return Path(locate_dataset(text, data_dir))


def load_lareqa(
    folder: str | Path,
    languages: Sequence[str] | None = None,
    *,
    name: str | None = None,
    data_dir: str | Path | None = None,
) -> LareqaDataset:
    """Load and validate every ``<lang>.json`` in ``folder`` (or only ``languages``).

    ``folder`` is a directory or a dataset name ("xquad-r", "mlqa-r") that
    ``polyret.data.registry.locate_dataset`` resolves (``data_dir`` is passed on).
    Files that do not end in ``.json`` (LICENSE, README) are ignored. Every
    problem raises one :class:`DataError` naming the file, the record and the field.
    """
    root = resolve_lareqa_folder(folder, data_dir)
    if not root.is_dir():
        raise DataError("dataset folder not found", path=root)
    available = {p.stem: p for p in sorted(root.glob("*.json")) if p.is_file()}
    if languages is None:
        wanted = sorted(available)
        if not wanted:
            raise DataError("no <lang>.json files in the folder", path=root)
    else:
        wanted = sorted(set(languages))
        missing = [lang for lang in wanted if lang not in available]
        if missing:
            have = ", ".join(sorted(available)) or "none"
            raise DataError(
                f"no file for language(s) {', '.join(missing)}; available: {have}",
                path=root / f"{missing[0]}.json",
            )
    loaded = {lang: _load_language(lang, available[lang]) for lang in wanted}
    return LareqaDataset(name or root.name, root, loaded)


def _load_language(lang: str, path: Path) -> LareqaLanguage:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 (byte {exc.start})", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=path
        ) from None
    questions, candidates = _parse(lang, path, obj)
    if not questions:
        raise DataError("the file holds no questions", path=path, record="data")
    return LareqaLanguage(lang, path, sha256_file(path), questions, candidates)


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _field(obj: Any, key: str, kind: type, path: Path, record: str) -> Any:
    if not isinstance(obj, dict):
        raise DataError(f"expected an object, got {_json_type(obj)}", path=path, record=record)
    if key not in obj:
        raise DataError("missing", path=path, record=record, field=key)
    value = obj[key]
    if not _is(value, kind):
        raise DataError(
            f"expected {_TYPE_NAMES[kind]}, got {_json_type(value)}",
            path=path,
            record=record,
            field=key,
        )
    return value


def _is(value: Any, kind: type) -> bool:
    # bool is an int subclass in Python, but true/false is never a valid offset
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for kind, label in names.items():
        if isinstance(value, kind):
            return f"{label} ({_short(value)})" if kind in (str, bool) else label
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return type(value).__name__


def _short(value: Any, width: int = 30) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _parse(lang: str, path: Path, obj: Any) -> tuple[list[Question], list[Candidate]]:
    questions: list[Question] = []
    candidates: list[Candidate] = []
    seen: dict[str, str] = {}
    articles = _field(obj, "data", list, path, "top level")
    for a, article in enumerate(articles):
        where = f"article {a}"
        title = _field(article, "title", str, path, where)
        where = f"article {a} {title!r}"
        paragraphs = _field(article, "paragraphs", list, path, where)
        for p, paragraph in enumerate(paragraphs):
            where = f"article {a} {title!r} paragraph {p}"
            context = _field(paragraph, "context", str, path, where)
            breaks = _breaks(
                _field(paragraph, "sentence_breaks", list, path, where), len(context), path, where
            )
            sentences = _field(paragraph, "sentences", list, path, where)
            if len(sentences) != len(breaks):
                raise DataError(
                    f"{len(sentences)} sentences but {len(breaks)} sentence_breaks",
                    path=path,
                    record=where,
                    field="sentences",
                )
            first = len(candidates)
            for s, text in enumerate(sentences):
                if not isinstance(text, str):
                    raise DataError(
                        f"sentence {s} is {_json_type(text)}, expected a string",
                        path=path,
                        record=where,
                        field="sentences",
                    )
                candidates.append(Candidate(lang, len(candidates), a, p, s, title, text, context))
            for qa in _field(paragraph, "qas", list, path, where):
                questions.append(_question(qa, lang, a, p, title, breaks, first, seen, path, where))
    return questions, candidates


def _breaks(value: list[Any], n_chars: int, path: Path, where: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is(x, int) for x in pair)):
            raise DataError(
                f"entry {i} is {_short(pair)}, expected [start, end] integers",
                path=path,
                record=where,
                field="sentence_breaks",
            )
        start, end = pair
        low = out[-1][1] if out else 0
        if not low <= start < end <= n_chars:
            raise DataError(
                f"entry {i} [{start}, {end}] must satisfy {low} <= start < end <= {n_chars} "
                "(inside the context, after the previous sentence)",
                path=path,
                record=where,
                field="sentence_breaks",
            )
        out.append((start, end))
    return out


def _question(
    qa: Any,
    lang: str,
    a: int,
    p: int,
    title: str,
    breaks: list[tuple[int, int]],
    first: int,
    seen: dict[str, str],
    path: Path,
    where: str,
) -> Question:
    qid = _field(qa, "id", str, path, f"{where} question")
    record = f"{where} question id {qid}"
    if qid in seen:
        raise DataError(
            f"duplicate id (first at {seen[qid]})", path=path, record=record, field="id"
        )
    seen[qid] = where
    text = _field(qa, "question", str, path, record)
    answers = _field(qa, "answers", list, path, record)
    if not answers:
        raise DataError("no answer", path=path, record=record, field="answers")
    # Both datasets have exactly one answer per question; the first one defines the target.
    start = _field(answers[0], "answer_start", int, path, f"{record} answer 0")
    for s, (lo, hi) in enumerate(breaks):
        if lo <= start < hi:
            return Question(qid, lang, text, first + s, a, p, title)
    raise DataError(
        f"answer_start {start} lies outside every sentence (sentence_breaks {_short(breaks, 60)})",
        path=path,
        record=f"{record} answer 0",
        field="answer_start",
    )
