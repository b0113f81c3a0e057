"""MIRACL (Zhang et al. 2023) as distributed by the ``miracl/miracl`` and ``miracl/miracl-corpus`` repositories.

MIRACL cannot be downloaded by polyret (no dataset hub here). Clone or copy both repositories
side by side under one data root (``--data-dir``, else ``$POLYRET_DATA``, else ``<cache>/data``)::

    <root>/miracl/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-<split>.tsv   qid<TAB>query
    <root>/miracl/miracl-v1.0-<lang>/qrels/qrels.miracl-v1.0-<lang>-<split>.tsv     qid Q0 docid relevance
    <root>/miracl-corpus/miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz              {"docid", "title", "text"}

The two repository folders may also be the root itself (``<root>/miracl-v1.0-<lang>/...`` and
``<root>/miracl-corpus-v1.0-<lang>/...``). Corpus shards may be gzipped or not and are read in the
order of their number ``i``. Splits: ``train``, ``dev``, ``testA``, ``testB`` (dev is the usual
evaluation split; testB ships without qrels). Docids look like ``<wikipedia id>#<passage>``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from polyret.data.beir import (
    CorpusCollection,
    Qrels,
    Query,
    add_judgment,
    add_query,
    check_id,
    iter_lines,
    judged_queries,
    parse_relevance,
    split_fields,
)
from polyret.errors import DataError

MIRACL_VERSION = "v1.0"
# The 16 known languages plus the two "surprise" languages (de, yo) of MIRACL v1.0.
MIRACL_LANGUAGES = (
    "ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh",
)  # fmt: skip
MIRACL_SPLITS = ("train", "dev", "testA", "testB")

MIRACL_LAYOUT = """\
<data-dir>/miracl/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-<split>.tsv
<data-dir>/miracl/miracl-v1.0-<lang>/qrels/qrels.miracl-v1.0-<lang>-<split>.tsv
<data-dir>/miracl-corpus/miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz
(the huggingface.co/datasets/miracl/miracl and miracl/miracl-corpus repositories, side by side)"""

_SHARD_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class MiraclFiles:
    """The files of one MIRACL language and split."""

    lang: str
    split: str
    topics: Path
    qrels: Path
    corpus_files: tuple[Path, ...]


def miracl_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root in force: ``data_dir``, else ``$POLYRET_DATA``, else ``<cache>/data``."""
    from polyret.data.registry import data_root

    return data_root(data_dir)


def _topics_dirs(root: Path, lang: str) -> list[Path]:
    name = f"miracl-{MIRACL_VERSION}-{lang}"
    return [root / "miracl" / name, root / name]


def _corpus_dirs(root: Path, lang: str) -> list[Path]:
    name = f"miracl-corpus-{MIRACL_VERSION}-{lang}"
    return [root / "miracl-corpus" / name, root / name]


def _not_found(root: Path, what: str, lang: str, split: str) -> DataError:
    return DataError(
        f"MIRACL {what} for language {lang!r}, split {split!r} not found. MIRACL cannot be downloaded "
        f"by polyret; provide this layout under --data-dir (or $POLYRET_DATA):\n{MIRACL_LAYOUT}",
        path=root,
    )


def _shard_order(path: Path) -> tuple[int, str]:
    numbers = _SHARD_NUMBER.findall(path.name)
    return (int(numbers[-1]) if numbers else -1, path.name)


def miracl_corpus_files(root: Path, lang: str) -> tuple[Path, ...]:
    """The corpus shards of ``lang`` in number order (``docs-2`` before ``docs-10``)."""
    for folder in _corpus_dirs(root, lang):
        if folder.is_dir():
            files = [p for p in folder.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz"))]
            if not files:
                raise DataError(
                    "no docs-<i>.jsonl(.gz) files in the MIRACL corpus folder", path=folder
                )
            plain = {p.name for p in files if p.name.endswith(".jsonl")}
            # A shard present both gunzipped and gzipped is read once (the plain file).
            files = [p for p in files if not (p.name.endswith(".gz") and p.name[:-3] in plain)]
            return tuple(sorted(files, key=_shard_order))
    raise _not_found(root, "corpus", lang, "any")


def locate_miracl(root: Path, lang: str, split: str = "dev") -> MiraclFiles:
    """Find the topics, qrels and corpus files of one language and split under ``root``."""
    if split not in MIRACL_SPLITS:
        raise DataError(f"unknown MIRACL split {split!r}; known: {', '.join(MIRACL_SPLITS)}")
    stem = f"miracl-{MIRACL_VERSION}-{lang}-{split}.tsv"
    for folder in _topics_dirs(root, lang):
        topics = folder / "topics" / f"topics.{stem}"
        if topics.is_file():
            qrels = folder / "qrels" / f"qrels.{stem}"
            if not qrels.is_file():
                raise DataError(
                    f"no qrels for split {split!r} (MIRACL testB ships without judgments)",
                    path=qrels,
                )
            return MiraclFiles(lang, split, topics, qrels, miracl_corpus_files(root, lang))
    raise _not_found(root, "topics", lang, split)


def available_languages(root: Path, split: str = "dev") -> list[str]:
    """Languages whose topics for ``split`` exist under ``root`` (sorted)."""
    found = set()
    pattern = re.compile(
        rf"topics\.miracl-{re.escape(MIRACL_VERSION)}-([A-Za-z_-]+)-{re.escape(split)}\.tsv$"
    )
    for base in (root / "miracl", root):
        if base.is_dir():
            for path in base.glob(f"miracl-{MIRACL_VERSION}-*/topics/*.tsv"):
                match = pattern.match(path.name)
                if match:
                    found.add(match.group(1))
    return sorted(found)


def read_topics(path: str | os.PathLike[str], *, lang: str | None = None) -> dict[str, Query]:
    """Read a MIRACL topics TSV (``qid<TAB>query``, no header): query id -> :class:`Query`."""
    path = Path(path)
    topics: dict[str, Query] = {}
    for lineno, line in iter_lines(path, skip_blank=True):
        qid, text = split_fields(line, ("qid", "query"), path=path, lineno=lineno)
        qid = check_id(qid, path=path, lineno=lineno, field="qid")
        query = Query(qid, text, lang)
        add_query(topics, query, path=path, lineno=lineno, fields=("qid", "query"))
    return topics


def read_trec_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read TREC qrels (``qid Q0 docid relevance``, whitespace-separated) into pytrec_eval's dict."""
    path = Path(path)
    qrels: Qrels = {}
    columns = ("qid", "Q0", "docid", "relevance")
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        qid, _, docid, rel_text = split_fields(line, columns, path=path, lineno=lineno, sep=None)
        rel = parse_relevance(rel_text, path=path, lineno=lineno, field="relevance")
        add_judgment(qrels, qid, docid, rel, path=path, lineno=lineno)
    if not qrels:
        raise DataError("empty qrels file", path=path)
    return qrels


def load_miracl(
    lang: str, split: str = "dev", data_dir: str | os.PathLike[str] | None = None
) -> CorpusCollection:
    """Load one MIRACL language: judged topics and qrels in memory, the corpus streamed from disk."""
    root = miracl_root(data_dir)
    files = locate_miracl(root, lang, split)
    topics = read_topics(files.topics, lang=lang)
    qrels = read_trec_qrels(files.qrels)
    queries = judged_queries(topics, qrels, qrels_path=files.qrels)
    return CorpusCollection(
        name=f"miracl-{MIRACL_VERSION}-{lang}",
        lang=lang,
        split=split,
        queries=queries,
        qrels=qrels,
        corpus_files=files.corpus_files,
        id_field="docid",
        corpus_key=f"miracl-corpus-{MIRACL_VERSION}-{lang}",
    )


def miracl_corpus_collection(
    lang: str, data_dir: str | os.PathLike[str] | None = None
) -> CorpusCollection:
    """Only the corpus of ``lang`` (no topics needed): what multi-process encoding reads."""
    root = miracl_root(data_dir)
    return CorpusCollection(
        name=f"miracl-{MIRACL_VERSION}-{lang}",
        lang=lang,
        split="",
        queries=(),
        qrels={},
        corpus_files=miracl_corpus_files(root, lang),
        id_field="docid",
        corpus_key=f"miracl-corpus-{MIRACL_VERSION}-{lang}",
    )
