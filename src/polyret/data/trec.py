"""TREC run and qrels files, read and written symmetrically.

Run line: ``qid Q0 docno rank score tag``. Qrels line: ``qid 0 docno relevance``.
trec_eval ignores the rank column and orders each query's documents by score
descending, then docno descending; :func:`trec_order` is that order and
:func:`write_run` writes ranks that follow it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from polyret.errors import DataError
from polyret.io import atomic_path

_V = TypeVar("_V")
_N = TypeVar("_N", int, float)

__all__ = ["Qrels", "Run", "read_qrels", "read_run", "trec_order", "write_qrels", "write_run"]

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

RunLike = Mapping[str, Mapping[str, float]] | Iterable[tuple[str, Iterable[tuple[str, float]]]]


def trec_order(docs: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """``(docno, score)`` pairs in trec_eval's order: score descending, ties by docno descending."""
    return sorted(docs, key=lambda d: (d[1], d[0]), reverse=True)


def _check_token(value: str, what: str, path: Path) -> None:
    if not value or any(ch.isspace() for ch in value):
        raise DataError(f"{what} {value!r} is empty or contains whitespace", path=path)


def write_run(path: str | Path, run: RunLike, *, tag: str = "polyret") -> None:
    """Write a run atomically; ``run`` maps qid -> {docno: score} or yields (qid, pairs).

    Scores are written with ``repr`` so they read back bit-identical.
    """
    path = Path(path)
    _check_token(tag, "run tag", path)
    items = run.items() if isinstance(run, Mapping) else run
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for qid, docs in items:
            _check_token(qid, "query id", path)
            pairs = docs.items() if isinstance(docs, Mapping) else docs
            for rank, (docno, score) in enumerate(trec_order(pairs), start=1):
                _check_token(docno, "docno", path)
                f.write(f"{qid} Q0 {docno} {rank} {float(score)!r} {tag}\n")


def read_run(path: str | Path) -> Run:
    """Read a run file into qid -> {docno: score}."""
    return _read_table(Path(path), "qid Q0 docno rank score tag", "score", _score)


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """Write qrels atomically (documents of a query sorted by docno)."""
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for qid, docs in qrels.items():
            _check_token(qid, "query id", path)
            for docno in sorted(docs):
                _check_token(docno, "docno", path)
                f.write(f"{qid} 0 {docno} {int(docs[docno])}\n")


def read_qrels(path: str | Path) -> Qrels:
    """Read a qrels file into qid -> {docno: relevance}."""
    return _read_table(Path(path), "qid iter docno relevance", "relevance", _relevance)


def _read_table(
    path: Path, columns: str, column: str, value: Callable[[str, Path, int], _V]
) -> dict[str, dict[str, _V]]:
    """qid -> {docno: ``value`` of ``column``} of a run or qrels file with ``columns``."""
    index = columns.split().index(column)
    table: dict[str, dict[str, _V]] = {}
    for lineno, parts in _lines(path, columns):
        qid, docno = parts[0], parts[2]
        found = value(parts[index], path, lineno)
        _add_once(table.setdefault(qid, {}), qid, docno, found, path=path, lineno=lineno)
    return table


def _score(text: str, path: Path, lineno: int) -> float:
    score = _number(float, text, "score", path=path, lineno=lineno)
    if not math.isfinite(score):
        raise DataError(
            f"score {text!r} is not finite", path=path, record=f"line {lineno}", field="score"
        )
    return score


def _relevance(text: str, path: Path, lineno: int) -> int:
    return _number(int, text, "relevance", path=path, lineno=lineno)


def _number(kind: type[_N], text: str, field: str, *, path: Path, lineno: int) -> _N:
    """``text`` as an int or a float; a DataError naming the line and the field otherwise."""
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise DataError(
            f"not {what}: {text!r}", path=path, record=f"line {lineno}", field=field
        ) from None


def _add_once(
    docs: dict[str, _V], qid: str, docno: str, value: _V, *, path: Path, lineno: int
) -> None:
    if docno in docs:
        raise DataError(
            f"docno {docno!r} appears twice for query {qid!r}",
            path=path,
            record=f"line {lineno}",
            field="docno",
        )
    docs[docno] = value


def _lines(path: Path, columns: str) -> Iterable[tuple[int, list[str]]]:
    """Non-blank lines split on whitespace, each with exactly the named ``columns``."""
    expected = len(columns.split())
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != expected:
                    raise DataError(
                        f"expected {expected} columns {columns!r}, got {len(parts)}",
                        path=path,
                        record=f"line {lineno}",
                    )
                yield lineno, parts
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 (byte {exc.start})", path=path) from None
