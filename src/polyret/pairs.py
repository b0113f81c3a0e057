"""Training pairs from parallel QA (LAReQA format) and parallel sentences (NTREX-128).

A :class:`TrainingPair` is ``(query, passage)`` text plus its query language, passage language
and parallel group id. For LAReQA data the group is the question id: the pair
``(question in Lq, answer sentence in Lp)`` exists for every two languages ``Lq``, ``Lp`` that hold
the id, and pairs of one group are translations of each other, so they must never be in-batch
negatives of each other. A :class:`PairSet` gives the trainer two things, kept apart on purpose:
``to_dataset()`` (only the ``query`` and ``passage`` columns: the data collator tokenizes every
column) and ``metadata()`` (languages and groups per row, bound into the batch sampler).

Typical use::

    data = load_lareqa(folder)
    split = split_by_article(data, dev_fraction=0.1, seed=42, exclude_titles=EXCLUDED)
    train = build_pairs(data, ids=split.train_ids, exclude_titles=EXCLUDED)
    train = train + load_ntrex_pairs(shared / "ntrex-128", ["en", "de"])
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from polyret.data.ntrex import NTREX_CODES, NtrexPart, load_ntrex, require_calibration_part
from polyret.data.splits import (
    ArticleSplit,
    excluded_ids,
    normalize_title,
    resolve_languages,
    split_by_article,
)
from polyret.errors import ConfigError, DataError

if TYPE_CHECKING:
    import datasets

    from polyret.data.lareqa import LareqaDataset

logger = logging.getLogger(__name__)

__all__ = [
    "ALIGN",
    "METADATA_COLUMNS",
    "NTREX_CODES",
    "ArticleSplit",
    "NegativeSource",
    "PairMetadata",
    "PairSet",
    "TrainingPair",
    "add_hard_negatives",
    "build_alignment_pairs",
    "build_pairs",
    "fingerprint_texts",
    "load_ntrex_pairs",
    "normalize_title",
    "passage_text",
    "resolve_language_pairs",
    "split_by_article",
]

#: Per-row fields that must never become dataset columns (the collator would tokenize them).
METADATA_COLUMNS = ("query_lang", "passage_lang", "group")
#: ``TrainingPair.kind`` of parallel-question alignment rows (:func:`build_alignment_pairs`).
ALIGN = "align"


class TrainingPair(NamedTuple):
    """One (query, passage) pair with the metadata that stays out of the tokenized columns.

    ``passage_key`` names the source of the passage when pairs with different passage texts
    still answer each other's queries (with ``context``, every question of one paragraph gets
    that paragraph); pairs that share it, or a query or passage text, never share a batch.
    ``negatives`` are hard negatives (:func:`add_hard_negatives`): extra candidate columns that
    must not answer the query; a pair whose positive is one of them never shares its batch.
    ``negative_groups``: the groups the negatives belong to (their rows never share the batch).
    ``kind``: ``"qa"`` (question, answer passage) or ``"align"`` (the same question in two
    languages, :func:`build_alignment_pairs`); the sampler gives each kind its own steps.
    ``negative_keys``: the paragraphs (as ``passage_key``) of the context negatives, each once:
    rows whose passage carries one of them never share the batch either.
    """

    query: str
    passage: str
    query_lang: str
    passage_lang: str
    group: str
    passage_key: str | None = None
    negatives: tuple[str, ...] = ()
    negative_groups: tuple[str, ...] = ()
    kind: str = "qa"
    negative_keys: tuple[str, ...] = ()


def passage_text(sentence: str, context: str | None = None) -> str:
    """The passage of an answer sentence: the sentence, or ``"<sentence> <paragraph>"``."""
    return sentence if not context else f"{sentence} {context}"


def fingerprint_texts(queries: Iterable[str], passages: Iterable[str]) -> str:
    """sha256 of the query and passage columns, to check that metadata belongs to a dataset."""
    h = hashlib.sha256()
    for column in (queries, passages):
        h.update("\x1f".join(column).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class PairMetadata:
    """Query language, passage language and group of every row, as small integer codes.

    ``languages[query_lang[i]]`` is the query language of row ``i``; ``groups[group[i]]`` its
    group id. ``fingerprint`` (of the row texts) lets a sampler check it was given the right
    dataset. Compact and picklable: the trainer pickles its arguments, sampler included.
    """

    languages: tuple[str, ...]
    query_lang: np.ndarray
    passage_lang: np.ndarray
    groups: tuple[str, ...]
    group: np.ndarray
    fingerprint: str | None = None
    link: np.ndarray | None = None
    align: np.ndarray | None = None  # per row: an alignment row (None: none is)

    def __post_init__(self) -> None:
        n = len(self.query_lang)
        if len(self.passage_lang) != n or len(self.group) != n:
            raise DataError(
                f"metadata columns differ in length: query_lang {n}, "
                f"passage_lang {len(self.passage_lang)}, group {len(self.group)}"
            )
        if self.link is not None and len(self.link) != n:
            raise DataError(f"metadata link has {len(self.link)} rows, the others {n}")
        if self.align is not None and len(self.align) != n:
            raise DataError(f"metadata align has {len(self.align)} rows, the others {n}")
        for name, codes, vocab in (
            ("query_lang", self.query_lang, self.languages),
            ("passage_lang", self.passage_lang, self.languages),
            ("group", self.group, self.groups),
        ):
            if n and (codes.min() < 0 or codes.max() >= len(vocab)):
                raise DataError(f"metadata codes out of range for {len(vocab)} values", field=name)

    @property
    def exclusive(self) -> np.ndarray:
        """Per row, the unit of which a batch (and a data-parallel step) holds at most one row.

        ``link`` when set (groups merged through shared texts), else ``group``.
        """
        return self.group if self.link is None else self.link

    @classmethod
    def from_columns(
        cls,
        query_langs: Sequence[str],
        passage_langs: Sequence[str],
        groups: Sequence[str],
        *,
        fingerprint: str | None = None,
        link: np.ndarray | None = None,
        align: np.ndarray | None = None,
    ) -> PairMetadata:
        """Build from one string per row for each field."""
        languages = tuple(sorted(set(query_langs) | set(passage_langs)))
        lang_code = {lang: i for i, lang in enumerate(languages)}
        dtype = np.int16 if len(languages) < 2**15 else np.int32
        group_code: dict[str, int] = {}
        codes = [group_code.setdefault(g, len(group_code)) for g in groups]
        return cls(
            languages=languages,
            query_lang=np.fromiter((lang_code[x] for x in query_langs), dtype, len(query_langs)),
            passage_lang=np.fromiter(
                (lang_code[x] for x in passage_langs), dtype, len(passage_langs)
            ),
            groups=tuple(group_code),
            group=np.asarray(codes, dtype=np.int64),
            fingerprint=fingerprint,
            link=link,
            align=align,
        )

    @property
    def is_align(self) -> np.ndarray:
        """Per row: whether it is an alignment row (all false without ``align``)."""
        return self.align if self.align is not None else np.zeros(len(self), dtype=bool)

    def __len__(self) -> int:
        return len(self.query_lang)

    def row(self, i: int) -> tuple[str, str, str]:
        """``(query_lang, passage_lang, group)`` of row ``i``."""
        return (
            self.languages[self.query_lang[i]],
            self.languages[self.passage_lang[i]],
            self.groups[self.group[i]],
        )


@dataclass
class PairSet:
    """Training pairs in row order; what the trainer consumes. ``a + b`` concatenates."""

    pairs: list[TrainingPair]

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[TrainingPair]:
        return iter(self.pairs)

    def __add__(self, other: PairSet) -> PairSet:
        return PairSet(self.pairs + other.pairs)

    @property
    def languages(self) -> list[str]:
        """Every query or passage language, sorted."""
        return sorted({p.query_lang for p in self.pairs} | {p.passage_lang for p in self.pairs})

    def counts(self) -> dict[str, int]:
        """Pairs per ``"<query_lang>-<passage_lang>"`` (alignment rows: ``"align:<q>-<p>"``),
        sorted by key."""
        c = Counter(
            f"{'align:' if p.kind == ALIGN else ''}{p.query_lang}-{p.passage_lang}"
            for p in self.pairs
        )
        return dict(sorted(c.items()))

    def summary(self) -> dict[str, Any]:
        """Pairs, groups, mono/cross split and per-language-pair counts (JSON-able)."""
        align = sum(p.kind == ALIGN for p in self.pairs)
        mono = sum(p.query_lang == p.passage_lang and p.kind != ALIGN for p in self.pairs)
        out = {
            "pairs": len(self.pairs),
            "groups": len({p.group for p in self.pairs}),
            "mono": mono,
            "cross": len(self.pairs) - mono - align,
            "languages": self.languages,
            "language_pairs": self.counts(),
        }
        if align:
            out["alignment"] = align
        return out

    def fingerprint(self) -> str:
        """sha256 over every field of every pair, in order: what the run trains on."""
        h = hashlib.sha256()
        for p in self.pairs:
            fields = (
                p.query,
                p.passage,
                p.query_lang,
                p.passage_lang,
                p.group,
                p.passage_key or "",
            )
            # Alignment rows add their kind and negative groups; QA rows hash as they always did.
            extra = (p.kind, *p.negative_groups) if p.kind == ALIGN else ()
            if p.negative_keys:  # context negatives (pairs without them hash as before)
                extra = (*extra, "\x1dkeys", *p.negative_keys)
            h.update("\x1f".join((*fields, *p.negatives, *extra)).encode("utf-8", "surrogatepass"))
            h.update(b"\x1e")
        return h.hexdigest()

    @property
    def columns(self) -> list[str]:
        """The dataset's text columns: ``query``, ``passage``, then ``negative_1`` ... when the
        pairs carry hard negatives (every pair the same number)."""
        counts = {len(p.negatives) for p in self.pairs}
        if len(counts) > 1:
            raise DataError(
                f"pairs carry different numbers of hard negatives ({sorted(counts)}): every row "
                "of a batch needs the same columns"
            )
        k = counts.pop() if counts else 0
        return ["query", "passage", *(f"negative_{i + 1}" for i in range(k))]

    def to_dataset(self) -> datasets.Dataset:
        """A ``datasets.Dataset`` with exactly the text columns of :attr:`columns`."""
        from datasets import Dataset

        columns: dict[str, list[str]] = {
            "query": [p.query for p in self.pairs],
            "passage": [p.passage for p in self.pairs],
        }
        for i, name in enumerate(self.columns[2:]):
            columns[name] = [p.negatives[i] for p in self.pairs]
        return Dataset.from_dict(columns)

    def links(self) -> np.ndarray:
        """Per row, a code shared by rows that must not meet in one batch.

        Groups are merged (union-find) when they share a query text, a passage text (a hard
        negative counts as one) or a ``passage_key`` (a context negative's counts as one): two
        questions with one answer sentence would otherwise make that sentence both the positive
        and an in-batch negative of each other, and a hard negative could be the positive of
        another row of its batch. A row is also linked to the groups of its negatives
        (``negative_groups``). Alignment rows link only among themselves (they never share a
        batch with QA rows), every text of theirs (question or negative) counting on either
        side, since all of them are questions.
        """
        parent = list(range(len(self.pairs)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[tuple[str, str], int] = {}
        for i, p in enumerate(self.pairs):
            if p.kind == ALIGN:
                keys = [("ag", group) for group in (p.group, *p.negative_groups)]
                keys += [("at", text) for text in (p.query, p.passage, *p.negatives)]
            else:
                keys = [("g", p.group), ("q", p.query), ("p", p.passage)]
                keys += [("p", negative) for negative in p.negatives]
                keys += [("g", group) for group in p.negative_groups]
                keys += [("k", key) for key in p.negative_keys]
            if p.passage_key is not None:
                keys.append(("k", p.passage_key))
            for key in keys:
                j = first.setdefault(key, i)
                if j != i:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        roots = np.fromiter((find(i) for i in range(len(parent))), np.int64, len(parent))
        return np.unique(roots, return_inverse=True)[1].reshape(-1).astype(np.int64)

    def metadata(self) -> PairMetadata:
        """Languages, group and link (see :meth:`links`) per row, in the row order of :meth:`to_dataset`."""
        align = np.fromiter((p.kind == ALIGN for p in self.pairs), bool, len(self.pairs))
        return PairMetadata.from_columns(
            [p.query_lang for p in self.pairs],
            [p.passage_lang for p in self.pairs],
            [p.group for p in self.pairs],
            fingerprint=fingerprint_texts(
                (p.query for p in self.pairs), (p.passage for p in self.pairs)
            ),
            link=self.links(),
            align=align if align.any() else None,
        )


_PAIR_SPEC = re.compile(r"^\s*([^-\s]+)\s*-\s*([^-\s]+)\s*$")


def resolve_language_pairs(
    spec: str | Iterable[str | tuple[str, str]], languages: Sequence[str]
) -> list[tuple[str, str]]:
    """Ordered ``(query_lang, passage_lang)`` pairs from a spec, sorted.

    ``spec``: ``"all"`` (every ordered pair, monolingual included), ``"mono"`` (``Lq == Lp``),
    ``"cross"`` (``Lq != Lp``), or a list of pairs as ``("de", "en")`` or ``"de-en"``.
    """
    langs = sorted(languages)
    if isinstance(spec, str):
        if spec == "all":
            return [(q, p) for q in langs for p in langs]
        if spec == "mono":
            return [(q, q) for q in langs]
        if spec == "cross":
            return [(q, p) for q in langs for p in langs if q != p]
        raise ConfigError(
            f"language_pairs={spec!r}: must be all, mono, cross or a list of pairs such as ['de-en']"
        )
    out: set[tuple[str, str]] = set()
    for item in spec:
        if isinstance(item, str):
            m = _PAIR_SPEC.match(item)
            if not m:
                raise ConfigError(f"language pair {item!r}: expected '<query_lang>-<passage_lang>'")
            pair = (m.group(1), m.group(2))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            pair = (str(item[0]), str(item[1]))
        else:
            raise ConfigError(f"language pair {item!r}: expected '<q>-<p>' or a (q, p) tuple")
        unknown = [x for x in pair if x not in langs]
        if unknown:
            raise ConfigError(
                f"language pair {'-'.join(pair)}: unknown language(s) {unknown}; available: {langs}"
            )
        out.add(pair)
    if not out:
        raise ConfigError("language_pairs is empty")
    return sorted(out)


def build_pairs(
    dataset: LareqaDataset,
    *,
    languages: Iterable[str] | None = None,
    language_pairs: str | Iterable[str | tuple[str, str]] = "all",
    exclude_titles: Iterable[str] = (),
    context: bool = False,
    ids: Collection[str] | None = None,
) -> PairSet:
    """Pairs ``(question in Lq, answer sentence in Lp)`` for every id held by both languages.

    Args:
        dataset: a loaded LAReQA dataset (``polyret.data.lareqa.load_lareqa``).
        languages: languages to use (default: all loaded).
        language_pairs: which ``(Lq, Lp)`` to build, see :func:`resolve_language_pairs`.
        exclude_titles: drop every id whose article title, in any loaded language (used or
            not), matches one of these (case, underscores and spacing ignored).
        context: passage = answer sentence + its paragraph (:func:`passage_text`).
        ids: keep only these question ids (e.g. ``split.train_ids``).

    Rows are ordered by id (first seen over sorted languages), then by language pair. Raises
    ConfigError for unknown languages or when nothing is left.
    """
    langs = resolve_languages(languages, list(dataset.languages), f"dataset {dataset.name!r}")
    cells = resolve_language_pairs(language_pairs, langs)
    excluded = excluded_ids(dataset, exclude_titles)
    keep = None if ids is None else set(ids)
    by_lang = {lang: dataset.languages[lang] for lang in langs}

    pairs: list[TrainingPair] = []
    for qid in dataset.question_ids:
        if qid in excluded or (keep is not None and qid not in keep):
            continue
        present = {}
        for lang, data in by_lang.items():
            q = data.question(qid)
            if q is not None:
                answer = data.candidates[q.answer]
                present[lang] = (
                    q.text,
                    passage_text(answer.text, answer.context if context else None),
                    # With context, the questions of one paragraph share its text.
                    f"{lang}:{q.article}:{q.paragraph}" if context else None,
                )
        for lq, lp in cells:
            if lq in present and lp in present:
                query, (_, passage, key) = present[lq][0], present[lp]
                pairs.append(TrainingPair(query, passage, lq, lp, qid, key))
    if not pairs:
        raise ConfigError(
            f"no training pairs from {dataset.name!r} for languages {langs} and language_pairs "
            f"{language_pairs!r} ({len(excluded)} ids excluded by title"
            + ("" if keep is None else f", {len(keep)} ids requested")
            + ")"
        )
    return PairSet(pairs)


def build_alignment_pairs(
    dataset: LareqaDataset,
    *,
    languages: Iterable[str] | None = None,
    exclude_titles: Iterable[str] = (),
    ids: Collection[str] | None = None,
    negatives: int = 0,
    seed: int = 0,
) -> tuple[PairSet, int]:
    """Parallel-question alignment rows: ``(question in X, the same question in Y)``.

    Translation ranking, the objective LaBSE was trained with, taken from the QA data itself:
    for every id held by two or more ``languages`` and every ordered pair ``X != Y`` of them, one
    row of kind :data:`ALIGN` (group: the id). Rows whose two questions read the same are left
    out. The passage side is encoded as a passage (the model's passage prompt), as NTREX
    translation pairs are. ``ids`` and ``exclude_titles`` filter ids as in :func:`build_pairs`.

    ``negatives``: per row, that many other questions of the same article in ``Y`` (the
    positive's language, never the id's own question or a question of the same text); their ids
    go into ``negative_groups`` so no row of theirs shares the batch. A row without enough
    article mates is dropped.

    Returns the rows and how many were dropped for want of negatives. Deterministic for
    ``seed``.
    """
    langs = resolve_languages(languages, list(dataset.languages), f"dataset {dataset.name!r}")
    if len(langs) < 2:
        raise ConfigError(f"alignment pairs need two or more languages, got {langs}")
    if negatives < 0:
        raise ConfigError(f"negatives={negatives!r}: must be 0 or more")
    excluded = excluded_ids(dataset, exclude_titles)
    keep = None if ids is None else set(ids)
    # (lang, article) -> that article's questions in that language: (id, text)
    mates: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for lang in langs:
        for q in dataset.languages[lang].questions:
            mates.setdefault((lang, q.article), []).append((q.id, q.text))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x616C6E]))
    pairs: list[TrainingPair] = []
    dropped = 0
    for qid in dataset.question_ids:
        if qid in excluded or (keep is not None and qid not in keep):
            continue
        present = {
            lang: q for lang in langs if (q := dataset.languages[lang].question(qid)) is not None
        }
        own_texts = {q.text for q in present.values()}
        # Negatives in the positive's language (y): in the query's language they would reward
        # "the other language answers", the shortcut that wrecked cross-only batches with
        # negatives (results/designs/: query-language negatives cost 0.07 dev multilingual mAP).
        pools = {
            y: [
                (i, t)
                for i, t in dict.fromkeys(mates[(y, qy.article)])
                if i != qid and t not in own_texts
            ]
            for y, qy in present.items()
        }
        for x, qx in present.items():
            for y, qy in present.items():
                if x == y or qx.text == qy.text:
                    continue
                pool = pools[y]
                chosen = [pool[k] for k in rng.permutation(len(pool))[:negatives]]
                if len(chosen) < negatives:
                    dropped += 1
                    continue
                pairs.append(
                    TrainingPair(
                        qx.text,
                        qy.text,
                        x,
                        y,
                        qid,
                        negatives=tuple(t for _, t in chosen),
                        negative_groups=tuple(i for i, _ in chosen),
                        kind=ALIGN,
                    )
                )
    if not pairs:
        raise ConfigError(
            f"no alignment pairs from {dataset.name!r} for languages {langs}"
            + (f" with {negatives} negative(s) from the same article" if negatives else "")
            + ": no question is held by two of them"
            + ("" if not negatives else " with enough other questions in its article")
        )
    return PairSet(pairs), dropped


class NegativeSource(str, Enum):
    """Where same-language hard negatives are drawn from.

    - ``PARAGRAPH``: the other sentences of the answer's paragraph, topped up from the rest of
      its article when the paragraph has too few.
    - ``ARTICLE``: any other sentence of the answer's article.
    """

    PARAGRAPH = "paragraph"
    ARTICLE = "article"


def add_hard_negatives(
    pairs: PairSet,
    dataset: LareqaDataset,
    count: int,
    source: NegativeSource | str = NegativeSource.PARAGRAPH,
    *,
    seed: int = 0,
) -> tuple[PairSet, int]:
    """Give every pair ``count`` hard negatives in its *query's* language.

    For a cross-lingual pair (question in ``Lq``, answer in ``Lp``) they are sentences in ``Lq``
    from the answer's paragraph (or article) that do not answer the question: the case the
    multilingual pool gets wrong, a same-language sentence ranked above the answer in another
    language. A mono pair gets classic same-paragraph hard negatives. A sentence is never a
    negative of a question it answers in any language, nor of a question linked to it
    (:meth:`PairSet.links`: a shared query or answer text); :meth:`PairSet.links` then keeps
    every pair whose positive is one of the negatives out of the batch.

    Context pairs (``build_pairs(context=True)``) get context negatives: the sentence followed
    by its own paragraph (:func:`passage_text`), as LAReQA's sentence+context candidates are,
    so in a monolingual pair a negative from the answer's paragraph differs from the positive in
    its sentence only. A context negative's sentence answers no question of its language (a
    repeated sentence could otherwise lead another row's answer paragraph unlinked), and each
    negative's paragraph goes into ``negative_keys``.

    Returns the pairs that got ``count`` negatives and the number dropped for want of them.
    Deterministic for ``seed`` and the pair order.
    """
    from polyret.errors import parse_enum

    source = parse_enum(NegativeSource, source, "negative_source")
    if count < 1:
        return pairs, 0
    if any(p.kind == ALIGN for p in pairs.pairs):
        raise ConfigError(
            "add_hard_negatives is for QA pairs; alignment rows draw their own negatives "
            "(build_alignment_pairs(negatives=...))"
        )
    context = {p.passage_key is not None for p in pairs.pairs}
    if len(context) > 1:
        raise ConfigError(
            "hard negatives need every pair built alike: some pairs carry context passages "
            "(build_pairs(context=True)) and some do not"
        )
    with_context = context == {True}
    link = pairs.links()
    # Every answer sentence of a linked group, in every language: never a negative of it.
    positives: dict[int, set[str]] = {}
    for row, pair in zip(link.tolist(), pairs.pairs, strict=True):
        banned = positives.setdefault(row, set())
        banned.add(pair.passage)
        for lang in (pair.query_lang, pair.passage_lang):
            answer = dataset.answer_candidate(pair.group, lang)
            if answer is not None:
                banned.add(answer.text)
    # (lang, article) -> its sentences in paragraph order: (paragraph, sentence, context).
    articles: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
    for lang, data in dataset.languages.items():
        for c in data.candidates:
            articles.setdefault((lang, c.article), []).append((c.paragraph, c.text, c.context))
    # Context negatives: no answer sentence of the language, in any paragraph.
    answers = (
        {
            lang: {data.candidates[q.answer].text for q in data.questions}
            for lang, data in dataset.languages.items()
        }
        if with_context
        else {}
    )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E6567]))
    out, dropped = [], 0
    for row, pair in zip(link.tolist(), pairs.pairs, strict=True):
        data = dataset.languages.get(pair.query_lang)
        question = data.question(pair.group) if data is not None else None
        if question is None:  # not a LAReQA question (e.g. an NTREX pair)
            dropped += 1
            continue
        banned = positives[row]
        sentences = articles.get((pair.query_lang, question.article), [])
        same = list(dict.fromkeys(t for para, t, _ in sentences if para == question.paragraph))
        rest = list(dict.fromkeys(t for para, t, _ in sentences if para != question.paragraph))
        same = [t for t in same if t not in banned]
        rest = [t for t in rest if t not in banned and t not in same]
        if with_context:
            # sentence -> (paragraph, context) it is taken from: its first occurrence in the
            # question's paragraph, else its first one elsewhere in the article
            home: dict[str, tuple[int, str]] = {}
            for para, t, ctx in sentences:
                if para == question.paragraph:
                    home.setdefault(t, (para, ctx))
            for para, t, ctx in sentences:
                home.setdefault(t, (para, ctx))
            excluded = answers.get(pair.query_lang, set())
            same, rest = (
                [t for t in ts if t not in excluded and passage_text(t, home[t][1]) not in banned]
                for ts in (same, rest)
            )
        if source is NegativeSource.ARTICLE:
            pool = same + rest
            chosen = [pool[i] for i in rng.permutation(len(pool))[:count]]
        else:
            chosen = [same[i] for i in rng.permutation(len(same))[:count]]
            chosen += [rest[i] for i in rng.permutation(len(rest))[: count - len(chosen)]]
        if len(chosen) < count:
            dropped += 1
            continue
        if not with_context:
            out.append(pair._replace(negatives=tuple(chosen)))
            continue
        places = [home[t] for t in chosen]
        out.append(
            pair._replace(
                negatives=tuple(
                    passage_text(t, ctx) for t, (_, ctx) in zip(chosen, places, strict=True)
                ),
                negative_keys=tuple(
                    dict.fromkeys(f"{pair.query_lang}:{question.article}:{p}" for p, _ in places)
                ),
            )
        )
    if not out:
        raise ConfigError(
            f"no pair has {count} hard negative(s) from its {source.value}: lower hard_negatives"
        )
    return PairSet(out), dropped


def load_ntrex_pairs(
    root: str | Path,
    languages: Iterable[str],
    *,
    language_pairs: str | Iterable[str | tuple[str, str]] = "cross",
    passages: str = "sentence",
    codes: Mapping[str, str] | None = None,
    part: str | NtrexPart = NtrexPart.CALIBRATION,
) -> PairSet:
    """Parallel NTREX-128 pairs: ``(line i in Lq, line i in Lp)``, group ``"ntrex:<i>"`` (1-based).

    Only the calibration part of NTREX-128 is read (:mod:`polyret.data.ntrex`): its evaluation
    part is held out for ``polyret eval --dataset ntrex``, and ``part="evaluation"`` is an error.
    Line numbers ``i`` are those of the full files.

    Args:
        root: the ``ntrex-128`` folder (or the data root that holds it).
        languages: ISO codes, mapped to NTREX file codes by :data:`NTREX_CODES` (+ ``codes``).
        language_pairs: as in :func:`resolve_language_pairs`; ``mono`` pairs need
            ``passages="document"`` (a sentence paired with itself teaches nothing).
        passages: ``"sentence"``, or ``"document"``: the passage is the whole document (in Lp)
            that holds the query sentence, and the group is ``"ntrex:<document id>"``.
        codes: extra or overriding ISO -> NTREX code mappings.
        part: must be ``"calibration"`` (the only part training may read).

    Pairs with an empty query or passage (an empty line in the files) are skipped.
    """
    require_calibration_part(part, "Training pairs")
    if passages not in ("sentence", "document"):
        raise ConfigError(f"passages={passages!r}: must be sentence or document")
    table = {**NTREX_CODES, **(codes or {})}
    langs = resolve_languages(languages, list(table), "NTREX-128 (add codes= for others)")
    cells = resolve_language_pairs(language_pairs, langs)
    if passages == "sentence" and any(q == p for q, p in cells):
        raise ConfigError(
            "NTREX monolingual pairs at sentence level would pair a sentence with itself; "
            "use language_pairs='cross' or passages='document'"
        )
    ntrex = load_ntrex(Path(root), langs, part=part, codes=codes)
    text = ntrex.texts

    documents: dict[str, dict[str, str]] = {}
    if passages == "document":
        for lang in langs:
            joined: dict[str, list[str]] = {}
            for doc, line in zip(ntrex.documents, text[lang], strict=True):
                if line:
                    joined.setdefault(doc, []).append(line)
            documents[lang] = {doc: " ".join(lines) for doc, lines in joined.items()}

    pairs: list[TrainingPair] = []
    skipped = 0
    for i, (line_no, doc) in enumerate(zip(ntrex.lines, ntrex.documents, strict=True)):
        for lq, lp in cells:
            query = text[lq][i]
            if passages == "sentence":
                passage, group = text[lp][i], f"ntrex:{line_no + 1}"
            else:
                passage, group = documents[lp].get(doc, ""), f"ntrex:{doc}"
            if not query or not passage:
                skipped += 1
                continue
            pairs.append(TrainingPair(query, passage, lq, lp, group))
    if skipped:
        logger.info("NTREX-128: skipped %d pairs with an empty line", skipped)
    if not pairs:
        raise ConfigError(f"no NTREX-128 pairs for languages {langs} and {language_pairs!r}")
    return PairSet(pairs)
