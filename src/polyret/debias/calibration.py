"""Calibration text: plain, unlabelled sentences per language, used to estimate language centroids.

Two sources:

* a folder of ``<lang>.txt`` files, one sentence per line (blank lines are skipped);
* ``ntrex``: the NTREX-128 news sentences of its calibration part (945 line-aligned sentences
  per language; the evaluation part is held out, see :mod:`polyret.data.ntrex`), found under
  the data root (``--data-dir``, else ``$POLYRET_DATA``; see
  :func:`polyret.data.registry.locate_dataset`).

Queries (:func:`load_queries`, optional) are real questions or search queries per language, for
the query centroids: a news sentence encoded with the query prompt is not a question, and its
mean lies farther from the mean question than the languages lie from each other. Sources: a
folder of ``<lang>.txt`` (one query per line), or the questions of a LAReQA dataset
(``xquad-r``, ``mlqa-r`` or a folder of ``<lang>.json``) other than the one evaluated.

``sentences`` of each language are picked evenly spaced over the file (always the same lines, so
a line-aligned source gives parallel sentences and the content averages out of the centroid
differences).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from polyret.data.lareqa import XQUAD_R_LANGUAGES
from polyret.data.ntrex import NTREX_CODES, NTREX_SOURCE, NtrexPart, require_calibration_part
from polyret.errors import ConfigError, DataError
from polyret.io import read_lines

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_SENTENCES = 300
MIN_SENTENCES = 10


# ISO 639-1 code -> NTREX-128 code, for every NTREX-128 language whose ISO 639-1 code names one
# file unambiguously (the base variant where NTREX has several: en -> the English source,
# pt -> por, fr -> fra, zh -> zho-CN). Left out: ku (kmr or ckb-Arab), sr (Cyrillic or Latin)
# and the languages without an ISO 639-1 code; pass their NTREX code (e.g. srp-Cyrl) instead.
ISO_TO_NTREX = NTREX_CODES  # one table, in polyret.data.ntrex

# A language label as used in file names and on the command line: "de", "zh-CN", "srp-Cyrl".
_LANG_LABEL = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Calibration:
    """Calibration sentences per language, and where they came from.

    ``missing`` lists requested languages that have no text (calibration: only with
    ``missing_ok``; queries: always allowed). ``left_out`` (queries only): per language, how many
    distinct queries were left out because they are, or are asked about, evaluated questions.
    """

    texts: dict[str, list[str]]
    source: str
    files: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    def describe(self) -> dict[str, object]:
        """A JSON-able record of the calibration (source, files, counts)."""
        return {
            "source": self.source,
            "languages": self.languages,
            "sentences": {lang: len(t) for lang, t in self.texts.items()},
            "files": self.files,
            "missing": list(self.missing),
            "left_out": dict(self.left_out),
        }


def evenly_spaced(items: Sequence[T], n: int) -> list[T]:
    """``n`` items spread evenly over ``items`` (the first one included), in order."""
    if n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def _read_lines(path: Path) -> list[str]:
    """Non-blank, stripped lines of a UTF-8 text file (gzip when the name ends in .gz)."""
    return [s for s in (line.strip() for line in read_lines(path)) if s]


def _take(path: Path, lang: str, sentences: int) -> list[str]:
    return _take_lines(_read_lines(path), path, lang, sentences)


def _take_lines(
    lines: list[str], path: Path, lang: str, sentences: int, where: str = ""
) -> list[str]:
    if not lines:
        raise DataError(f"no sentences for language {lang!r} (the file is empty)", path=path)
    if len(lines) < sentences:
        raise DataError(
            f"only {len(lines)} sentences{where} for language {lang!r}, fewer than the "
            f"{sentences} asked for (lower --sentences or add text)",
            path=path,
        )
    return evenly_spaced(lines, sentences)


def _check_sentences(sentences: int) -> None:
    if sentences < MIN_SENTENCES:
        raise ConfigError(
            f"--sentences {sentences} is too few: a centroid needs at least {MIN_SENTENCES} sentences"
        )


def _check_languages(languages: list[str] | None) -> list[str] | None:
    if languages is None:
        return None
    if not languages:
        raise ConfigError("--languages is empty")
    for lang in languages:
        if not _LANG_LABEL.match(lang):
            raise ConfigError(
                f"invalid language code {lang!r}; expected e.g. de, zh-CN or srp-Cyrl"
            )
    if len(set(languages)) != len(languages):
        raise ConfigError(f"--languages repeats a language: {' '.join(languages)}")
    return list(languages)


def read_ntrex(
    languages: list[str],
    *,
    sentences: int,
    data_dir: str | os.PathLike[str] | None = None,
    missing_ok: bool = False,
    part: str | NtrexPart = NtrexPart.CALIBRATION,
) -> Calibration:
    """Calibration from NTREX-128's calibration part (the same evenly spaced lines in every
    language); ``part`` other than calibration is refused (the evaluation part is held out)."""
    from polyret.data.ntrex import load_ntrex
    from polyret.data.registry import locate_dataset

    require_calibration_part(part, "Calibration text")
    ntrex_dir = locate_dataset("ntrex-128", data_dir)
    try:
        text = load_ntrex(ntrex_dir, languages, part=part, missing_ok=missing_ok)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; pass --uncentered-ok to leave it uncentered") from None
    texts: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for lang, lines in text.texts.items():
        path = text.files[lang]
        nonblank = [line for line in lines if line]
        texts[lang] = _take_lines(nonblank, path, lang, sentences, " in the calibration part")
        files[lang] = str(path)
    return Calibration(texts, NTREX_SOURCE, files, text.missing)


def read_folder(
    folder: str | os.PathLike[str],
    languages: list[str] | None,
    *,
    sentences: int,
    missing_ok: bool = False,
) -> Calibration:
    """Calibration from ``folder/<lang>.txt`` files; all of them when ``languages`` is None."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"calibration source not found: expected a folder of <lang>.txt files or {NTREX_SOURCE!r}",
            path=folder,
        )
    if languages is None:
        found = sorted(p for p in folder.glob("*.txt") if p.is_file())
        if not found:
            raise DataError("no <lang>.txt files in the calibration folder", path=folder)
        for p in found:
            if not _LANG_LABEL.match(p.stem):
                raise DataError(
                    f"file name {p.name!r} is not <lang>.txt with a language code (e.g. de.txt)",
                    path=p,
                )
        languages = [p.stem for p in found]
    texts: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    missing: list[str] = []
    for lang in languages:
        path = folder / f"{lang}.txt"
        if not path.is_file():
            if missing_ok:
                missing.append(lang)
                continue
            raise DataError(
                f"unknown language {lang!r}: no calibration file {path.name} "
                f"(pass --uncentered-ok to leave it uncentered)",
                path=folder,
            )
        texts[lang] = _take(path, lang, sentences)
        files[lang] = str(path)
    return Calibration(texts, str(folder), files, tuple(missing))


def _is_lareqa(source: str | os.PathLike[str]) -> bool:
    from polyret.data.registry import DATASETS

    if str(source) in DATASETS:
        return DATASETS[str(source)].relpath.startswith("lareqa/")
    folder = Path(source)
    return folder.is_dir() and any(folder.glob("*.json")) and not any(folder.glob("*.txt"))


def _take_queries(
    texts: list[str],
    lang: str,
    sentences: int,
    path: Path,
    left_out: frozenset[str],
    already: int = 0,
) -> tuple[list[str], int]:
    """``sentences`` evenly spaced distinct queries not in ``left_out``, and how many were left
    out (``already``: those the caller left out before, counted in)."""
    distinct = list(dict.fromkeys(texts))
    kept = [t for t in distinct if t not in left_out]
    dropped = already + len(distinct) - len(kept)
    if not kept:
        raise DataError(f"no queries for language {lang!r}", path=path)
    if len(kept) < sentences:
        raise DataError(
            f"only {len(kept)} distinct queries for language {lang!r} (after leaving out "
            f"{dropped} that are, or are about, evaluated questions), fewer than the {sentences} "
            f"asked for "
            f"(lower --sentences or add queries)",
            path=path,
        )
    return evenly_spaced(kept, sentences), dropped


def _evaluated_questions(evaluated: LareqaDataset | None) -> tuple[frozenset[str], frozenset[str]]:
    """The question texts of ``evaluated`` and the normalized titles of its articles (empty when
    None).

    A title counts in every language: MLQA-R titles are localized (素数 is "Prime number"), so
    the titles of an evaluated question id are gathered from every ``<lang>.json`` of the
    evaluated dataset's folder, also the languages that are not evaluated.
    """
    if evaluated is None:
        return frozenset(), frozenset()
    from polyret.data.splits import normalize_title

    questions = [q for data in evaluated.languages.values() for q in data.questions]
    titles = {normalize_title(q.title) for q in questions}
    others = (
        sorted(p.stem for p in evaluated.root.glob("*.json") if p.stem not in evaluated.languages)
        if evaluated.root.is_dir()
        else []
    )
    if others:
        from polyret.data.lareqa import load_lareqa

        ids = {q.id for q in questions}
        rest = load_lareqa(evaluated.root, others)
        titles.update(
            normalize_title(q.title)
            for data in rest.languages.values()
            for q in data.questions
            if q.id in ids
        )
    return frozenset(q.text for q in questions), frozenset(titles)


def _left_out_ids(
    dataset: LareqaDataset, texts: frozenset[str], titles: frozenset[str]
) -> frozenset[str]:
    """Ids of ``dataset`` whose question, in any language, equals one of ``texts`` or belongs to
    an article titled one of ``titles`` (normalized).

    One id is one question in every language, so a match in one language leaves the id out in all
    of them: an MLQA-R question about 素数 is linked to "Prime number" through its English copy.
    """
    if not texts and not titles:
        return frozenset()
    from polyret.data.splits import normalize_title

    return frozenset(
        q.id
        for data in dataset.languages.values()
        for q in data.questions
        if q.text in texts or normalize_title(q.title) in titles
    )


def load_queries(
    source: str | os.PathLike[str],
    *,
    languages: list[str],
    sentences: int = DEFAULT_SENTENCES,
    data_dir: str | os.PathLike[str] | None = None,
    evaluated: LareqaDataset | None = None,
) -> Calibration:
    """Real queries of ``languages`` from ``source``: a folder of ``<lang>.txt`` (one query per
    line), or the questions of a LAReQA dataset (``xquad-r``, ``mlqa-r``, a folder of ``<lang>.json``).

    ``evaluated``: the dataset the queries will be evaluated on. Its own folder is refused, and
    every query equal to one of its questions, or (from a LAReQA source) asked about an article it
    also holds, is left out before ``sentences`` are picked. From a LAReQA source a question is
    left out in every language when any language's copy of it (same id) matches, and an article
    matches by its title in any language of either dataset (:func:`_evaluated_questions`,
    :func:`_left_out_ids`): localized titles do not let a question through. Languages without
    queries are listed in ``missing`` (their query centroid is transferred, see
    :func:`polyret.debias.fit.query_centroids`); no language at all is an error.
    """
    _check_sentences(sentences)
    languages = _check_languages(languages) or []
    if str(source) == NTREX_SOURCE:
        raise ConfigError(
            "ntrex holds news sentences, not queries; give a folder of <lang>.txt queries or a "
            "LAReQA dataset whose questions to use (e.g. xquad-r)"
        )
    left_out_texts, left_out_titles = _evaluated_questions(evaluated)
    by_lang: dict[str, tuple[Path, list[str]]] = {}
    shared: dict[str, int] = {}
    if _is_lareqa(source):
        from polyret.data.lareqa import load_lareqa

        dataset = load_lareqa(source, data_dir=data_dir)
        if evaluated is not None and dataset.root.resolve() == evaluated.root.resolve():
            raise ConfigError(
                f"the queries {source} are the questions being evaluated ({dataset.root}); "
                f"calibrate on queries that are not evaluated, e.g. another dataset's questions "
                f"or a query log"
            )
        label = f"{dataset.name} questions"
        left_out_ids = _left_out_ids(dataset, left_out_texts, left_out_titles)
        for lang in languages:
            if lang in dataset.languages:
                data = dataset.languages[lang]
                asked = [q.text for q in data.questions if q.id not in left_out_ids]
                # distinct texts, as _take_queries counts them
                shared[lang] = len(set(q.text for q in data.questions)) - len(set(asked))
                by_lang[lang] = (data.path, asked)
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise DataError(
                "query source not found: expected a folder of <lang>.txt queries or a LAReQA "
                "dataset (xquad-r, mlqa-r, or a folder of <lang>.json)",
                path=folder,
            )
        label = str(folder)
        for lang in languages:
            path = folder / f"{lang}.txt"
            if path.is_file():
                by_lang[lang] = (path, _read_lines(path))
    texts: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    left_out: dict[str, int] = {}
    for lang, (path, lines) in by_lang.items():
        texts[lang], left_out[lang] = _take_queries(
            lines, lang, sentences, path, left_out_texts, shared.get(lang, 0)
        )
        files[lang] = str(path)
    if not texts:
        raise ConfigError(
            f"the queries in {source} cover none of the languages {', '.join(languages)}"
        )
    missing = tuple(lang for lang in languages if lang not in texts)
    if evaluated is not None and any(left_out.values()):
        logger.info(
            "left out %d queries that are questions of %s or asked about articles it holds (%s)",
            sum(left_out.values()),
            evaluated.name,
            ", ".join(f"{lang} {n}" for lang, n in left_out.items()),
        )
    if missing:
        logger.info(
            "no queries for %s: their query centroids are transferred from the other languages",
            ", ".join(missing),
        )
    return Calibration(texts, label, files, missing, left_out if evaluated is not None else {})


def load_calibration(
    source: str | os.PathLike[str],
    *,
    languages: list[str] | None = None,
    sentences: int = DEFAULT_SENTENCES,
    data_dir: str | os.PathLike[str] | None = None,
    missing_ok: bool = False,
) -> Calibration:
    """Read calibration text from ``source`` (a folder or ``"ntrex"``).

    ``languages`` defaults to every ``<lang>.txt`` of a folder, or the XQuAD-R languages for
    NTREX-128. Raises :class:`DataError` / :class:`ConfigError` on an empty file, an unknown
    language (unless ``missing_ok``) or fewer lines than ``sentences``.
    """
    _check_sentences(sentences)
    languages = _check_languages(languages)
    if str(source) == NTREX_SOURCE:
        calibration = read_ntrex(
            languages or list(XQUAD_R_LANGUAGES),
            sentences=sentences,
            data_dir=data_dir,
            missing_ok=missing_ok,
        )
    else:
        calibration = read_folder(source, languages, sentences=sentences, missing_ok=missing_ok)
    if not calibration.texts:
        raise ConfigError(f"no calibration language left from {source} (all missing)")
    if calibration.missing:
        logger.warning(
            "no calibration text for %s: left uncentered", ", ".join(calibration.missing)
        )
    return calibration
