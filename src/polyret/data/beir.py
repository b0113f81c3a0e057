"""BEIR-format retrieval collections, and the corpus records shared with MIRACL.

A BEIR dataset folder holds::

    <folder>/corpus.jsonl          {"_id": str, "title": str, "text": str, ...}, one per line (.jsonl.gz too)
    <folder>/queries.jsonl         {"_id": str, "text": str, ...}
    <folder>/qrels/<split>.tsv     header "query-id<TAB>corpus-id<TAB>score", then one judgment per line

The corpus is never held in memory: :meth:`CorpusCollection.iter_documents` streams it. Every
malformed record raises :class:`~polyret.errors.DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from polyret.errors import DataError

# pytrec_eval's qrels type: query id -> document id -> graded relevance.
Qrels = dict[str, dict[str, int]]

BEIR_QRELS_HEADER = ("query-id", "corpus-id", "score")


class Document(NamedTuple):
    """One corpus passage."""

    docid: str
    title: str
    text: str
    lang: str | None = None


class Query(NamedTuple):
    """One query (a MIRACL topic or a BEIR query)."""

    qid: str
    text: str
    lang: str | None = None


@dataclass(frozen=True)
class CorpusCollection:
    """Queries, judgments and a streamed JSONL corpus: one language of MIRACL or one BEIR folder.

    ``queries`` are those with at least one judgment in ``qrels``, in file order.
    ``corpus_key`` names the corpus independently of the split (it keys the encoding cache).
    """

    name: str
    lang: str | None
    split: str
    queries: tuple[Query, ...]
    qrels: Qrels
    corpus_files: tuple[Path, ...]
    id_field: str
    corpus_key: str

    def iter_documents(self) -> Iterator[Document]:
        """Stream the corpus documents, file after file, in file order."""
        for path in self.corpus_files:
            yield from iter_jsonl_documents(path, id_field=self.id_field, lang=self.lang)

    def corpus_signature(self) -> list[dict[str, Any]]:
        """File names and sizes: recorded with the encodings, to notice a changed corpus."""
        return [{"name": p.name, "size": p.stat().st_size} for p in self.corpus_files]


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def iter_lines(
    path: str | os.PathLike[str], *, skip_blank: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line without newline)`` of a UTF-8 text file, gzipped or not
    (``skip_blank``: not the lines that hold only whitespace).

    Lines are decoded one by one, so a decoding error names its own line; decoding and gzip
    errors become :class:`DataError` naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    lineno = 0
    try:
        with _open_binary(path) as f:
            for lineno, raw in enumerate(f, 1):
                text = raw.decode("utf-8").rstrip("\r\n")
                if lineno == 1:
                    text = text.removeprefix("\ufeff")
                if not (skip_blank and not text.strip()):
                    yield lineno, text
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            path=path,
            record=f"line {lineno}",
        ) from None
    except (EOFError, OSError) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(
            f"cannot read the file ({exc})", path=path, record=f"line {lineno + 1}"
        ) from None


def _json_object(path: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON ({exc.msg}, column {exc.colno})", path=path, record=f"line {lineno}"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(
            f"expected a JSON object, got {type(obj).__name__}", path=path, record=f"line {lineno}"
        )
    return obj


def split_fields(
    line: str, names: tuple[str, ...], *, path: Path, lineno: int, sep: str | None = "\t"
) -> list[str]:
    """The stripped fields of ``line`` split on ``sep`` (None: on whitespace), exactly one per
    name in ``names``; a DataError naming the line and the expected fields otherwise."""
    fields = line.split(sep)
    if len(fields) != len(names):
        how = "tab-separated " if sep == "\t" else ""
        raise DataError(
            f"expected {len(names)} {how}fields ({', '.join(names)}), got {len(fields)}",
            path=path,
            record=f"line {lineno}",
        )
    return [f.strip() for f in fields]


def check_id(value: Any, *, path: Path, lineno: int, field: str) -> str:
    """An id as a string: ints are accepted, whitespace (which would break TREC runs) is not."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(
            f"expected a string id, got {type(value).__name__}" if value is not None else "missing",
            path=path,
            record=f"line {lineno}",
            field=field,
        )
    value = str(value)
    if not value:
        raise DataError("empty id", path=path, record=f"line {lineno}", field=field)
    if any(c.isspace() for c in value):
        raise DataError(
            f"id {value!r} contains whitespace", path=path, record=f"line {lineno}", field=field
        )
    return value


def _text_field(obj: dict[str, Any], field: str, *, path: Path, lineno: int, required: bool) -> str:
    value = obj.get(field)
    if value is None:
        if required:
            raise DataError("missing", path=path, record=f"line {lineno}", field=field)
        return ""
    if not isinstance(value, str):
        raise DataError(
            f"expected a string, got {type(value).__name__}",
            path=path,
            record=f"line {lineno}",
            field=field,
        )
    return value


def iter_jsonl_documents(
    path: str | os.PathLike[str], *, id_field: str = "_id", lang: str | None = None
) -> Iterator[Document]:
    """Stream a JSONL corpus file (BEIR ``_id`` or MIRACL ``docid``; ``title`` optional; ``text`` required)."""
    path = Path(path)
    for lineno, line in iter_lines(path, skip_blank=True):
        obj = _json_object(path, lineno, line)
        docid = check_id(obj.get(id_field), path=path, lineno=lineno, field=id_field)
        title = _text_field(obj, "title", path=path, lineno=lineno, required=False)
        text = _text_field(obj, "text", path=path, lineno=lineno, required=True)
        yield Document(docid, title, text, lang)


def read_beir_queries(path: str | os.PathLike[str], *, lang: str | None = None) -> dict[str, Query]:
    """Read ``queries.jsonl``: query id -> :class:`Query`, in file order; duplicate ids are an error."""
    path = Path(path)
    queries: dict[str, Query] = {}
    for lineno, line in iter_lines(path, skip_blank=True):
        obj = _json_object(path, lineno, line)
        qid = check_id(obj.get("_id"), path=path, lineno=lineno, field="_id")
        text = _text_field(obj, "text", path=path, lineno=lineno, required=True)
        add_query(queries, Query(qid, text, lang), path=path, lineno=lineno, fields=("_id", "text"))
    return queries


def add_query(
    queries: dict[str, Query], query: Query, *, path: Path, lineno: int, fields: tuple[str, str]
) -> None:
    """Add ``query`` to ``queries``, refusing an empty text or an id seen before; ``fields``:
    the file's names of the id and the text, for the error."""
    record = f"line {lineno}"
    if not query.text.strip():
        raise DataError("empty query text", path=path, record=record, field=fields[1])
    if query.qid in queries:
        raise DataError(
            f"duplicate query id {query.qid!r}", path=path, record=record, field=fields[0]
        )
    queries[query.qid] = query


def parse_relevance(value: str, *, path: Path, lineno: int, field: str) -> int:
    """A graded relevance label: an integer (``"1"``; ``"1.0"`` is accepted when integral)."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number.is_integer():
        return int(number)
    raise DataError(
        f"relevance {value!r} is not an integer", path=path, record=f"line {lineno}", field=field
    )


def read_beir_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a BEIR ``qrels/<split>.tsv`` (with its header line) into pytrec_eval's qrels dict."""
    path = Path(path)
    qrels: Qrels = {}
    header_seen = False
    for lineno, line in iter_lines(path, skip_blank=True):
        fields = line.split("\t")
        if not header_seen:
            if tuple(f.strip() for f in fields) != BEIR_QRELS_HEADER:
                raise DataError(
                    f"expected the header {'<TAB>'.join(BEIR_QRELS_HEADER)!r}, got {line[:80]!r}",
                    path=path,
                    record=f"line {lineno}",
                )
            header_seen = True
            continue
        qid, docid, score_text = split_fields(line, BEIR_QRELS_HEADER, path=path, lineno=lineno)
        qid = check_id(qid, path=path, lineno=lineno, field="query-id")
        docid = check_id(docid, path=path, lineno=lineno, field="corpus-id")
        score = parse_relevance(score_text, path=path, lineno=lineno, field="score")
        add_judgment(qrels, qid, docid, score, path=path, lineno=lineno)
    if not header_seen:
        raise DataError("empty qrels file", path=path)
    return qrels


def add_judgment(qrels: Qrels, qid: str, docid: str, rel: int, *, path: Path, lineno: int) -> None:
    """Add one judgment; a second judgment of the same pair is an error naming the line."""
    judged = qrels.setdefault(qid, {})
    if docid in judged:
        raise DataError(
            f"duplicate judgment for query {qid!r} and document {docid!r}",
            path=path,
            record=f"line {lineno}",
        )
    judged[docid] = rel


def judged_queries(
    queries: dict[str, Query], qrels: Qrels, *, qrels_path: Path
) -> tuple[Query, ...]:
    """The queries that have judgments, in query-file order; a judged id without a query is an
    error naming the first qrels line that judges it."""
    missing = [qid for qid in qrels if qid not in queries]
    if missing:
        raise DataError(
            f"{len(missing)} judged query id(s) have no query text, e.g. {missing[0]!r}",
            path=qrels_path,
            record=f"line {first_line_with_id(qrels_path, missing[0])}",
        )
    return tuple(q for qid, q in queries.items() if qid in qrels)


def first_line_with_id(path: Path, qid: str) -> int:
    """The first line of a TSV or TREC file whose first field is ``qid`` (0 if none), for error messages."""
    for lineno, line in iter_lines(path):
        if line.split("\t", 1)[0].split()[0:1] == [qid]:
            return lineno
    return 0


def find_beir_file(folder: Path, stem: str) -> Path:
    """``folder/<stem>.jsonl`` or ``.jsonl.gz``; a DataError naming both when neither exists."""
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"no {stem}.jsonl (or {stem}.jsonl.gz); a BEIR folder holds corpus.jsonl, queries.jsonl "
        "and qrels/<split>.tsv",
        path=folder,
    )


def beir_corpus_key(folder: Path) -> str:
    """The encoding-cache key of a BEIR corpus: the folder name plus a hash of its absolute path."""
    return f"beir-{folder.name}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]}"


def load_beir(
    folder: str | os.PathLike[str], split: str = "test", *, lang: str | None = None
) -> CorpusCollection:
    """Load a BEIR folder's queries and ``qrels/<split>.tsv``; the corpus stays on disk."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(
            "BEIR folder not found (expected corpus.jsonl, queries.jsonl, qrels/<split>.tsv)",
            path=folder,
        )
    corpus = find_beir_file(folder, "corpus")
    queries = read_beir_queries(find_beir_file(folder, "queries"), lang=lang)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DataError(
            f"no qrels for split {split!r}; splits found: {', '.join(found) or 'none'}",
            path=qrels_path,
        )
    qrels = read_beir_qrels(qrels_path)
    selected = judged_queries(queries, qrels, qrels_path=qrels_path)
    return CorpusCollection(
        name=f"beir:{folder.name}",
        lang=lang,
        split=split,
        queries=selected,
        qrels=qrels,
        corpus_files=(corpus,),
        id_field="_id",
        corpus_key=beir_corpus_key(folder),
    )
