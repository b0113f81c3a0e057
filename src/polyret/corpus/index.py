"""Top-k inner-product search over vector shards with FAISS, memory bounded by one shard.

Each shard is loaded (memory-mapped, converted to float32; a debiased search transforms it in
memory first), indexed, searched for every query and dropped; the per-shard top-k lists are
merged in a :class:`faiss.ResultHeap`. Peak memory is a few float32 copies of one shard plus the
(queries x k) heap, whatever the corpus size. Results are ordered by score, ties
by corpus position (lower first).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from polyret.configfile import check_at_least
from polyret.corpus.shards import VectorShard
from polyret.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


class IndexKind(str, Enum):
    """The FAISS index built over each shard.

    - ``flat``: exact inner product (``IndexFlatIP``). The reference; use it unless scanning the
      corpus per query batch is too slow.
    - ``ivf``: inverted lists (``IndexIVFFlat``). One coarse quantizer is trained on a sample of the
      whole corpus and shared by every shard, so the result equals a single global IVF index;
      ``nprobe`` lists are scanned per query. Much faster on large corpora; recall below 1.
    - ``hnsw``: a graph per shard (``IndexHNSWFlat``). Fast queries but slow to build, so it pays
      off only with many queries; CPU only.
    """

    FLAT = "flat"
    IVF = "ivf"
    HNSW = "hnsw"


@dataclass
class SearchConfig:
    """How to search; the approximate-index knobs are ignored by ``flat``."""

    k: int = 100
    index: IndexKind | str = IndexKind.FLAT
    nlist: int | None = (
        None  # IVF lists; None: 4 * sqrt(corpus size), capped by the training sample
    )
    nprobe: int = 16
    train_size: int = 100_000  # IVF: vectors sampled across shards to train the quantizer
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    gpu: bool | None = None  # None: a GPU when faiss has GPU support and sees one
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            self.index = IndexKind(self.index)
        except ValueError:
            raise ConfigError(
                f"unknown index {self.index!r}; choose one of {', '.join(k.value for k in IndexKind)}"
            ) from None
        names = ("k", "nprobe", "train_size", "hnsw_m", "ef_construction", "ef_search", "nlist")
        check_at_least(self, *names, flags=False)


@dataclass(frozen=True)
class SearchResult:
    """Top-k per query. ``rows`` are global corpus rows, -1 where the corpus has fewer than k."""

    scores: np.ndarray  # (num_queries, k) float32, descending
    rows: np.ndarray  # (num_queries, k) int64
    seconds: float
    device: str  # "cpu" or "gpu"
    index: str
    params: dict[str, Any]


def gpu_available() -> bool:
    """Whether the installed faiss is a GPU build and sees a CUDA device."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _ivf_template(
    shards: Sequence[VectorShard], dim: int, config: SearchConfig, num_docs: int
) -> tuple[Any, int]:
    """An empty IndexIVFFlat whose quantizer is trained on a sample drawn across all shards."""
    import faiss

    rng = np.random.default_rng(config.seed)
    want = min(config.train_size, num_docs)
    parts = []
    for shard in shards:
        take = min(shard.count, round(want * shard.count / num_docs))
        if take:
            rows = np.sort(rng.choice(shard.count, size=take, replace=False))
            parts.append(np.asarray(shard.load()[rows], dtype=np.float32))
    sample = (
        np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros((0, dim), np.float32)
    )
    # faiss wants >= 39 training points per list; fewer lists than that would train poorly.
    nlist = config.nlist or max(1, min(round(4 * math.sqrt(num_docs)), len(sample) // 39))
    if len(sample) < nlist:
        raise ConfigError(
            f"IVF with nlist={nlist} needs at least {nlist} training vectors, got {len(sample)}"
        )
    quantizer = faiss.IndexFlatIP(dim)
    template = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    template.train(sample)
    # clone_index copies the trained quantizer into a self-contained index.
    return faiss.clone_index(template), nlist


def _shard_index(
    vectors: np.ndarray, config: SearchConfig, template: Any, gpu_res: Any, nprobe: int
) -> Any:
    """``vectors`` indexed as ``config`` asks (IVF: a copy of ``template``, probing ``nprobe``
    lists)."""
    import faiss

    dim = vectors.shape[1]
    if config.index is IndexKind.HNSW:
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        index.add(vectors)
        index.hnsw.efSearch = max(config.ef_search, config.k)
        return index
    flat = config.index is IndexKind.FLAT
    index = faiss.IndexFlatIP(dim) if flat else faiss.clone_index(template)
    if gpu_res is not None:
        index = faiss.index_cpu_to_gpu(gpu_res, 0, index)
    index.add(vectors)
    if config.index is IndexKind.IVF:
        index.nprobe = nprobe  # CPU IndexIVFFlat and GpuIndexIVFFlat alike
    return index


def search(
    queries: np.ndarray, shards: Sequence[VectorShard], config: SearchConfig
) -> SearchResult:
    """Top-``config.k`` rows for each query (num_queries, dim) over all shards."""
    import faiss

    started = time.perf_counter()
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2:
        raise ValueError(f"queries must be (num_queries, dim), got shape {queries.shape}")
    num_queries, dim = queries.shape
    num_docs = sum(s.count for s in shards)
    if num_docs == 0:
        raise DataError("cannot search an empty corpus")
    use_gpu = gpu_available() if config.gpu is None else config.gpu
    if use_gpu and not gpu_available():
        raise ConfigError(
            "GPU search requested, but faiss has no GPU support here (install a faiss GPU build)"
        )
    # faiss GPU indexes return at most 2048 neighbours and have no HNSW: those searches stay on CPU.
    on_gpu = use_gpu and config.index is not IndexKind.HNSW and config.k <= 2048
    gpu_res = faiss.StandardGpuResources() if on_gpu else None
    template, params, coarse, nprobe = None, {}, None, 0
    if config.index is IndexKind.IVF:
        template, nlist = _ivf_template(shards, dim, config, num_docs)
        # A small corpus may have fewer lists than nprobe: then every list is probed (and
        # search_preassigned needs as many probes as the queries' assignments have columns).
        nprobe = min(config.nprobe, nlist)
        params = {"nlist": nlist, "nprobe": nprobe}
        if gpu_res is None:
            # Every shard shares the quantizer: assign the queries to their lists once, not per shard.
            coarse = template.quantizer.search(queries, nprobe)
    elif config.index is IndexKind.HNSW:
        params = {
            "M": config.hnsw_m,
            "efConstruction": config.ef_construction,
            "efSearch": max(config.ef_search, config.k),
        }
    heap = faiss.ResultHeap(num_queries, config.k, keep_max=True)
    for shard in shards:
        # One shard in float32 (the index keeps its own copy, so drop ours right away).
        vectors = np.ascontiguousarray(shard.load(), dtype=np.float32)
        if vectors.shape[1] != dim:
            raise DataError(
                f"shard vectors have dimension {vectors.shape[1]}, queries {dim}", path=shard.path
            )
        index = _shard_index(vectors, config, template, gpu_res, nprobe)
        del vectors
        shard_k = min(config.k, shard.count)
        if coarse is not None:
            scores, rows = index.search_preassigned(queries, shard_k, coarse[1], coarse[0])
        else:
            scores, rows = index.search(queries, shard_k)
        del index
        heap.add_result(scores, np.where(rows >= 0, rows + shard.start, -1))
    heap.finalize()
    scores, rows = heap.D, heap.I
    missing = (rows < 0) | (scores <= -np.finfo(np.float32).max)
    rows[missing] = -1
    scores[missing] = -np.inf
    # Deterministic order: score descending, then corpus row ascending; missing results last.
    order = np.lexsort(
        (np.where(rows < 0, np.iinfo(np.int64).max, rows), -scores.astype(np.float64))
    )
    scores = np.take_along_axis(scores, order, axis=1)
    rows = np.take_along_axis(rows, order, axis=1)
    return SearchResult(
        scores=scores,
        rows=rows,
        seconds=time.perf_counter() - started,
        device="gpu" if gpu_res is not None else "cpu",
        index=config.index.value,
        params=params,
    )


def recall_against(rows: np.ndarray, reference: np.ndarray) -> float:
    """Mean over queries of |top-k ∩ reference top-k| / |reference top-k| (valid rows only)."""
    if rows.shape[0] != reference.shape[0]:
        raise ValueError(f"{rows.shape[0]} result rows against {reference.shape[0]} reference rows")
    total = 0.0
    for found, expected in zip(rows, reference, strict=True):
        expected = expected[expected >= 0]
        if len(expected):
            total += len(np.intersect1d(found[found >= 0], expected)) / len(expected)
        else:
            total += 1.0
    return total / max(len(rows), 1)


__all__ = ["IndexKind", "SearchConfig", "SearchResult", "gpu_available", "recall_against", "search"]
