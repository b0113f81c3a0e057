from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyret.corpus.index import IndexKind, SearchConfig, recall_against, search
from polyret.corpus.shards import VectorShard
from polyret.errors import ConfigError, DataError


def write_shards(
    folder: Path, vectors: np.ndarray, shard_size: int, offset: int = 0
) -> list[VectorShard]:
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for start in range(0, len(vectors), shard_size):
        path = folder / f"s{start}.npy"
        np.save(path, vectors[start : start + shard_size])
        shards.append(VectorShard(path, offset + start, len(vectors[start : start + shard_size])))
    return shards


def brute_force(queries: np.ndarray, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: full score matrix, score descending then row ascending (a stable sort)."""
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, rows, axis=1), rows


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1200, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((30, 24)).astype(np.float32)
    return vectors, queries


@pytest.mark.parametrize("shard_size", [1200, 500, 97])
def test_exact_search_equals_brute_force_for_any_shard_size(
    tmp_path: Path, data, shard_size: int
) -> None:
    vectors, queries = data
    result = search(queries, write_shards(tmp_path, vectors, shard_size), SearchConfig(k=25))
    scores, rows = brute_force(queries, vectors, 25)
    np.testing.assert_array_equal(result.rows, rows)
    np.testing.assert_allclose(result.scores, scores, atol=1e-5)
    assert result.device == "cpu" and result.index == "flat"


def test_ties_go_to_the_lower_corpus_row(tmp_path: Path) -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [0.5, 0]], dtype=np.float32)
    shards = write_shards(tmp_path, vectors, 2)
    result = search(np.array([[1, 0]], dtype=np.float32), shards, SearchConfig(k=4))
    assert result.rows.tolist() == [[0, 2, 3, 4]]


def test_fewer_documents_than_k_are_padded_with_minus_one(tmp_path: Path, data) -> None:
    vectors, queries = data
    result = search(queries[:3], write_shards(tmp_path, vectors[:8], 3), SearchConfig(k=10))
    assert (result.rows[:, 8:] == -1).all() and (result.rows[:, :8] >= 0).all()
    assert np.isneginf(result.scores[:, 8:]).all()
    assert sorted(result.rows[0, :8].tolist()) == list(range(8))


def test_shard_offsets_give_global_rows(tmp_path: Path, data) -> None:
    vectors, queries = data
    shards = write_shards(tmp_path, vectors[:100], 40, offset=1000)
    result = search(queries, shards, SearchConfig(k=5))
    np.testing.assert_array_equal(result.rows, brute_force(queries, vectors[:100], 5)[1] + 1000)


def test_ivf_probing_every_list_is_exact_and_fewer_lists_lose_recall(tmp_path: Path, data) -> None:
    vectors, queries = data
    shards = write_shards(tmp_path, vectors, 300)
    exact = search(queries, shards, SearchConfig(k=10))
    full = search(queries, shards, SearchConfig(k=10, index="ivf", nlist=16, nprobe=16))
    np.testing.assert_array_equal(full.rows, exact.rows)
    assert full.params == {"nlist": 16, "nprobe": 16}
    partial = search(queries, shards, SearchConfig(k=10, index="ivf", nlist=16, nprobe=1))
    recall = recall_against(partial.rows, exact.rows)
    assert 0.0 < recall < 1.0


def test_hnsw_recall_is_high(tmp_path: Path, data) -> None:
    vectors, queries = data
    shards = write_shards(tmp_path, vectors, 600)
    exact = search(queries, shards, SearchConfig(k=10))
    approx = search(queries, shards, SearchConfig(k=10, index=IndexKind.HNSW, ef_search=64))
    assert recall_against(approx.rows, exact.rows) > 0.9


def test_recall_against() -> None:
    ref = np.array([[1, 2, 3, -1], [4, 5, 6, 7]])
    found = np.array([[3, 1, 9, -1], [4, 5, 6, 7]])
    assert recall_against(found, ref) == pytest.approx((2 / 3 + 1) / 2)


def test_errors(tmp_path: Path, data) -> None:
    vectors, queries = data
    with pytest.raises(ConfigError, match="unknown index 'annoy'"):
        SearchConfig(index="annoy")
    with pytest.raises(ConfigError, match="k must be at least 1"):
        SearchConfig(k=0)
    with pytest.raises(DataError, match="dimension 24, queries 5"):
        search(queries[:, :5], write_shards(tmp_path, vectors[:10], 5), SearchConfig(k=2))
    truncated = VectorShard(tmp_path / "s0.npy", 0, 6)
    with pytest.raises(DataError, match=r"shape \(5, 24\), expected \(6, dim\)"):
        search(queries, [truncated], SearchConfig(k=2))
