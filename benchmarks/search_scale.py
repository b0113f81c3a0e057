"""Exact top-k search over a large sharded corpus: wall time, peak memory, correctness.

Writes ``--n`` random unit vectors (no model) as ``.npy`` shards, searches ``--queries`` random
queries for the top ``--k`` with :func:`polyret.corpus.index.search` (FAISS ``IndexFlatIP`` per
shard, merged in a result heap), and checks a sample of queries against a float64 brute-force
reference written with numpy alone. Memory is measured as peak RSS: sampled every 20 ms during the
search, and the process's lifetime maximum (``getrusage``); the target is to stay within 2 GB
beyond the vectors themselves (the design keeps it near one shard, far below the vectors).

    .venv/bin/python benchmarks/search_scale.py                 # 1,000,000 x 384, 10,000 queries
    .venv/bin/python benchmarks/search_scale.py --n 100000 --queries 1000
    .venv/bin/python benchmarks/search_scale.py --index ivf --clusters 1000   # approximate + recall
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from polyret.corpus.index import SearchConfig, search
from polyret.corpus.shards import VectorShard

GB = 1024**3


def random_unit(
    rng: np.random.Generator, count: int, dim: int, centers: np.ndarray | None
) -> np.ndarray:
    """Isotropic unit vectors, or (with ``centers``) unit vectors scattered around random centers."""
    block = rng.standard_normal((count, dim), dtype=np.float32)
    if centers is not None:
        block = centers[rng.integers(len(centers), size=count)] + 0.5 * block / np.sqrt(dim)
    return block / np.linalg.norm(block, axis=1, keepdims=True)


def write_random_shards(
    folder: Path,
    n: int,
    dim: int,
    shard_size: int,
    dtype: str,
    seed: int,
    centers: np.ndarray | None = None,
    chunk: int = 20_000,
) -> list[VectorShard]:
    """Random unit vectors as .npy shards, written chunk by chunk (memory: one chunk)."""
    shards = []
    rng = np.random.default_rng(seed)
    for start in range(0, n, shard_size):
        count = min(shard_size, n - start)
        path = folder / f"shard-{start // shard_size:05d}.npy"
        with open(path, "wb") as f:
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                "fortran_order": False,
                "shape": (count, dim),
            }
            np.lib.format.write_array_header_1_0(f, header)
            for offset in range(0, count, chunk):
                block = random_unit(rng, min(chunk, count - offset), dim, centers)
                f.write(block.astype(dtype).tobytes())
        shards.append(VectorShard(path, start, count))
    return shards


def brute_force(
    queries: np.ndarray, shards: list[VectorShard], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference top-k in float64 with numpy only: (scores, rows), score descending then row ascending."""
    best_scores = np.full((len(queries), 0), -np.inf)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    q64 = queries.astype(np.float64)
    for shard in shards:
        scores = q64 @ np.asarray(shard.load(), dtype=np.float64).T  # (num_queries, shard rows)
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        cand_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        cand_rows = np.concatenate([best_rows, top + shard.start], axis=1)
        order = np.lexsort((cand_rows, -cand_scores))[:, :k]
        best_scores = np.take_along_axis(cand_scores, order, axis=1)
        best_rows = np.take_along_axis(cand_rows, order, axis=1)
    return best_scores, best_rows


def exact_scores(queries: np.ndarray, rows: np.ndarray, shards: list[VectorShard]) -> np.ndarray:
    """float64 score of each (query, row) pair: (num_queries, k)."""
    out = np.zeros(rows.shape)
    for shard in shards:
        mask = (rows >= shard.start) & (rows < shard.start + shard.count)
        if mask.any():
            vectors = np.asarray(shard.load()[rows[mask] - shard.start], dtype=np.float64)
            query_index = np.nonzero(mask)[0]
            out[mask] = np.einsum("ij,ij->i", queries[query_index].astype(np.float64), vectors)
    return out


class PeakRss:
    """Samples this process's RSS in a thread; ``peak`` is the largest value seen."""

    def __init__(self, interval: float = 0.02) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="corpus vectors")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument(
        "--check", type=int, default=200, help="queries checked against brute force"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the shards (default: a temp dir)"
    )
    parser.add_argument(
        "--clusters",
        type=int,
        default=0,
        help="0: isotropic vectors (no structure, worst case for IVF); N: scattered around N centers",
    )
    parser.add_argument("--index", choices=("flat", "ivf", "hnsw"), default="flat")
    parser.add_argument("--nprobe", type=int, default=16, help="IVF lists scanned per query")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="polyret-bench-", dir=args.dir))
    try:
        started = time.perf_counter()
        centers = None
        if args.clusters:
            centers = random_unit(np.random.default_rng(2), args.clusters, args.dim, None)
        shards = write_random_shards(
            folder, args.n, args.dim, args.shard_size, args.dtype, seed=0, centers=centers
        )
        rng = np.random.default_rng(1)
        queries = random_unit(rng, args.queries, args.dim, centers)
        generate_s = time.perf_counter() - started
        vectors_bytes = args.n * args.dim * np.dtype(args.dtype).itemsize
        rss_before = psutil.Process().memory_info().rss
        print(
            f"corpus: {args.n:,} x {args.dim} {args.dtype} in {len(shards)} shards "
            f"({vectors_bytes / GB:.2f} GiB on disk, written in {generate_s:.1f} s); "
            f"{args.queries:,} queries, top-{args.k}",
            flush=True,
        )

        with PeakRss() as sampler:
            config = SearchConfig(k=args.k, index=args.index, nprobe=args.nprobe, gpu=False)
            result = search(queries, shards, config)
        lifetime_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

        check = min(args.check, args.queries)
        sample = np.sort(rng.choice(args.queries, size=check, replace=False))
        ref_started = time.perf_counter()
        ref_scores, ref_rows = brute_force(queries[sample], shards, args.k)
        ref_s = time.perf_counter() - ref_started
        rows, scores = result.rows[sample], result.scores[sample]
        identical = float(np.mean((rows == ref_rows).all(axis=1)))
        positions = float(np.mean(rows == ref_rows))
        overlap = float(
            np.mean(
                [len(np.intersect1d(a, b)) / args.k for a, b in zip(rows, ref_rows, strict=True)]
            )
        )
        score_diff = float(np.abs(scores.astype(np.float64) - ref_scores).max())
        # Where a rank holds another row than the reference, the two rows must tie in exact arithmetic
        # up to float32 rounding: compare their float64 scores.
        ours_exact = exact_scores(queries[sample], rows, shards)
        mismatch = rows != ref_rows
        tie_gap = float(np.abs(ours_exact - ref_scores)[mismatch].max()) if mismatch.any() else 0.0
        near_tie = tie_gap < 1e-6

        numbers = {
            "n": args.n,
            "dim": args.dim,
            "dtype": args.dtype,
            "queries": args.queries,
            "k": args.k,
            "index": args.index,
            "clusters": args.clusters,
            "index_params": result.params,
            "shard_size": args.shard_size,
            "search_wall_s": round(result.seconds, 2),
            "queries_per_s": round(args.queries / result.seconds, 1),
            "vectors_gib": round(vectors_bytes / GB, 3),
            "rss_before_search_gib": round(rss_before / GB, 3),
            "peak_rss_search_gib": round(sampler.peak / GB, 3),
            "peak_rss_lifetime_gib": round(lifetime_peak / GB, 3),
            "peak_rss_over_vectors": round(sampler.peak / vectors_bytes, 3),
            "peak_rss_beyond_vectors_gib": round((sampler.peak - vectors_bytes) / GB, 3),
            "within_2gib_beyond_vectors": bool(
                max(sampler.peak, lifetime_peak) <= vectors_bytes + 2 * GB
            ),
            "checked_queries": check,
            "identical_rankings_ratio": identical,
            "identical_positions_ratio": positions,
            "top_k_overlap_ratio": overlap,
            "max_abs_score_diff": score_diff,
            "max_exact_score_gap_at_differing_positions": tie_gap,
            "differences_are_near_ties": near_tie,
            "reference_s": round(ref_s, 2),
            "faiss_threads": __import__("faiss").omp_get_max_threads(),
            "cpu_count": psutil.cpu_count(),
        }
        print(
            f"search ({args.index}): {result.seconds:.1f} s ({numbers['queries_per_s']:.0f} queries/s, "
            f"{numbers['faiss_threads']} threads)\n"
            f"peak RSS during search: {sampler.peak / GB:.2f} GiB (lifetime {lifetime_peak / GB:.2f} GiB, "
            f"before search {rss_before / GB:.2f} GiB); vectors {vectors_bytes / GB:.2f} GiB; "
            f"ratio peak/vectors = {numbers['peak_rss_over_vectors']:.3f}; "
            f"within vectors + 2 GiB: {numbers['within_2gib_beyond_vectors']}\n"
            f"exactness on {check} queries vs float64 brute force: identical rankings ratio = {identical:.4f}, "
            f"identical positions ratio = {positions:.6f}, top-{args.k} overlap ratio = {overlap:.6f}, "
            f"max |score diff| = {score_diff:.2e}; differing positions are float32 near-ties "
            f"(float64 gap {tie_gap:.1e}): {near_tie}",
            flush=True,
        )
        if args.index != "flat":
            print(
                f"{args.index} {result.params}: recall@{args.k} against exact search = {overlap:.4f}"
            )
        print(json.dumps(numbers, indent=2))
        if args.json:
            args.json.write_text(json.dumps(numbers, indent=2) + "\n")
        return 0 if near_tie or args.index != "flat" else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
