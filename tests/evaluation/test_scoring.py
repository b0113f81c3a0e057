from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyret.evaluation.scoring import Pool, count_before, topk_ties


def brute_order(row: list[float], keys: list[int]) -> list[int]:
    """Column indices by score descending, then key descending (trec_eval's rule with key = docno order)."""
    return sorted(range(len(row)), key=lambda j: (row[j], keys[j]), reverse=True)


@st.composite
def problems(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    n_rows = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    n = sum(sizes)
    # few distinct values: many exact ties
    scores = torch.tensor(
        draw(
            st.lists(
                st.lists(st.integers(-2, 2), min_size=n, max_size=n),
                min_size=n_rows,
                max_size=n_rows,
            )
        ),
        dtype=torch.float64,
    )
    keys = torch.tensor(draw(st.permutations(list(range(n)))))
    block_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    rel = torch.tensor(
        draw(
            st.lists(
                st.lists(st.integers(-1, n - 1), min_size=len(sizes), max_size=len(sizes)),
                min_size=n_rows,
                max_size=n_rows,
            )
        )
    )
    return scores, keys, block_of, rel


@settings(max_examples=150, deadline=None)
@given(problems())
def test_count_before_matches_brute_force(problem: tuple[torch.Tensor, ...]) -> None:
    scores, keys, block_of, rel = problem
    n_blocks = int(block_of.max()) + 1
    got = count_before(scores, keys, block_of, n_blocks, rel)
    for i in range(len(scores)):
        order = brute_order(scores[i].tolist(), keys.tolist())
        for slot, target in enumerate(rel[i].tolist()):
            for b in range(n_blocks):
                if target < 0:
                    expected = 0
                else:
                    ahead = order[: order.index(target)]
                    expected = sum(int(block_of[j]) == b for j in ahead)
                assert int(got[i, b, slot]) == expected


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(1, 8))
def test_topk_ties_matches_brute_force(problem: tuple[torch.Tensor, ...], k: int) -> None:
    scores, keys, _, _ = problem
    got = topk_ties(scores, keys, k)
    for i in range(len(scores)):
        assert got[i].tolist() == brute_order(scores[i].tolist(), keys.tolist())[:k]


def test_pool_scores_dedupe_and_blocks() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])  # rows 0 and 2 repeat a's rows
    pool = Pool.build(["a", "b"], [a, b], ["a-0", "a-1", "b-0", "b-1", "b-2"])
    assert pool.inverse is not None and len(pool.embeddings) == 3
    q = torch.tensor([[2.0, 3.0]])
    assert pool.scores(q).tolist() == [[2.0, 3.0, 2.0, 2.5, 3.0]]
    assert pool.scores(q, pool.block(1)).tolist() == [[2.0, 2.5, 3.0]]
    assert pool.block_of.tolist() == [0, 0, 1, 1, 1]
    assert pool.keys.tolist() == [0, 1, 2, 3, 4]
