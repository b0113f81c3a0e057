"""A persistent translation cache (SQLite): each distinct text is translated once per model.

Rows are keyed by (model key, source language, target language, source text); the
model key names the model, a fingerprint of its files and the decoding options, so a
changed model or beam size never serves stale translations. Each batch is committed
as it finishes, so a killed run keeps all the work it finished.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["TranslationCache"]

# Far below SQLite's limit on host parameters (999 in old builds).
_IN_CHUNK = 500


class TranslationCache:
    """``get_many`` / ``put_many`` over one SQLite file; safe to share between runs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS translations ("
            " model TEXT NOT NULL, src TEXT NOT NULL, tgt TEXT NOT NULL,"
            " source TEXT NOT NULL, target TEXT NOT NULL,"
            " PRIMARY KEY (model, src, tgt, source))"
        )
        self._db.commit()

    def get_many(self, model: str, src: str, tgt: str, texts: Iterable[str]) -> dict[str, str]:
        """The cached translations of those ``texts`` that have one."""
        texts = list(dict.fromkeys(texts))
        found: dict[str, str] = {}
        for i in range(0, len(texts), _IN_CHUNK):
            part = texts[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                "SELECT source, target FROM translations WHERE model = ? AND src = ? AND tgt = ?"
                f" AND source IN ({marks})",
                (model, src, tgt, *part),
            )
            found.update(rows)
        return found

    def put_many(self, model: str, src: str, tgt: str, pairs: Mapping[str, str]) -> None:
        """Store translations and commit."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)",
                [(model, src, tgt, s, t) for s, t in pairs.items()],
            )

    def count(self, model: str | None = None) -> int:
        """Number of cached translations (of one model key, or all)."""
        if model is None:
            return self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
        return self._db.execute(
            "SELECT COUNT(*) FROM translations WHERE model = ?", (model,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranslationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
