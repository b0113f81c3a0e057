"""Corpus-scale retrieval evaluation: streamed shard encoding, FAISS search, pytrec_eval metrics.

Names are imported on first use, so ``import polyret.corpus`` is cheap and
``python -m polyret.corpus.encode`` runs its module only once.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CorpusEncoding": "polyret.corpus.evaluate",
    "CorpusEvalConfig": "polyret.corpus.evaluate",
    "CorpusResult": "polyret.corpus.evaluate",
    "CorpusTask": "polyret.corpus.evaluate",
    "run_corpus_eval": "polyret.corpus.evaluate",
    "EncodeConfig": "polyret.corpus.encode",
    "EncodeResult": "polyret.corpus.encode",
    "encode_collection": "polyret.corpus.encode",
    "encode_corpus": "polyret.corpus.encode",
    "IndexKind": "polyret.corpus.index",
    "SearchConfig": "polyret.corpus.index",
    "SearchResult": "polyret.corpus.index",
    "search": "polyret.corpus.index",
    "EncodedCorpus": "polyret.corpus.shards",
    "ShardInfo": "polyret.corpus.shards",
    "VectorShard": "polyret.corpus.shards",
    "load_encoded": "polyret.corpus.shards",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'polyret.corpus' has no attribute {name!r}")
