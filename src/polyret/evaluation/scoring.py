"""Chunked scoring of a pooled candidate set and rank counting under one tie rule.

The pool is the concatenation of per-language candidate blocks. Scores are dot
products computed in float64 (float32 products are exact in float64, so a
query's scores do not depend on how the queries are chunked), and candidates
with identical embeddings are scored once, so duplicates tie exactly.

Ranking order (trec_eval's): score descending, then docno descending. Each
candidate gets an integer ``tie key`` = the position of its docno in ascending
string order, so "ranks before" means ``score > s or (score == s and key > k)``.
The rank of a relevant candidate is 1 + the number of candidates that rank
before it: no sort is needed (:func:`count_before`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["Pool", "count_before", "topk_ties"]


@dataclass
class Pool:
    """Candidate embeddings of several languages, concatenated in ``langs`` order.

    ``embeddings``: [N, d] float64 unique rows; ``inverse``: [N] row of each
    candidate in ``embeddings`` (None when all rows are distinct);
    ``offsets``: block boundaries, language i is ``offsets[i]:offsets[i+1]``;
    ``keys``: [N] int64 tie keys (larger ranks first among equal scores);
    ``block_of``: [N] int64 language (block) index of each candidate.
    """

    langs: list[str]
    embeddings: torch.Tensor
    inverse: torch.Tensor | None
    offsets: list[int]
    keys: torch.Tensor
    block_of: torch.Tensor

    @classmethod
    def build(
        cls,
        langs: Sequence[str],
        blocks: Sequence[torch.Tensor],
        docnos: Sequence[str],
        device: torch.device | None = None,
    ) -> Pool:
        """``blocks[i]``: [n_i, d] embeddings of ``langs[i]``; ``docnos``: one per row, in pool order."""
        device = device or blocks[0].device
        matrix = torch.cat([b.to(device=device, dtype=torch.float64) for b in blocks])
        if len(docnos) != len(matrix):
            raise ValueError(f"{len(docnos)} docnos for {len(matrix)} candidates")
        order = sorted(range(len(docnos)), key=docnos.__getitem__)
        keys = torch.empty(len(docnos), dtype=torch.int64)
        keys[torch.tensor(order, dtype=torch.int64)] = torch.arange(len(docnos))
        unique, inverse = torch.unique(matrix, dim=0, return_inverse=True)
        if len(unique) == len(matrix):
            unique, inverse = matrix, None
        offsets = [0]
        for b in blocks:
            offsets.append(offsets[-1] + len(b))
        sizes = torch.tensor([len(b) for b in blocks])
        block_of = torch.repeat_interleave(torch.arange(len(blocks)), sizes)
        return cls(list(langs), unique, inverse, offsets, keys.to(device), block_of.to(device))

    @property
    def size(self) -> int:
        return self.offsets[-1]

    @property
    def device(self) -> torch.device:
        return self.embeddings.device

    def block(self, i: int) -> slice:
        return slice(self.offsets[i], self.offsets[i + 1])

    def scores(self, queries: torch.Tensor, block: slice | None = None) -> torch.Tensor:
        """Dot products of ``queries`` [c, d] with every candidate (or those of ``block``): [c, N] float64."""
        q = queries.to(device=self.device, dtype=torch.float64)
        if self.inverse is None:
            return q @ (self.embeddings if block is None else self.embeddings[block]).T
        inverse = self.inverse if block is None else self.inverse[block]
        if block is None:
            return (q @ self.embeddings.T)[:, inverse]
        rows, inverse = inverse.unique(return_inverse=True)
        return (q @ self.embeddings[rows].T)[:, inverse]


def count_before(
    scores: torch.Tensor,
    keys: torch.Tensor,
    block_of: torch.Tensor,
    n_blocks: int,
    relevant: torch.Tensor,
) -> torch.Tensor:
    """How many candidates of each block rank before each relevant candidate.

    scores: [c, N]; keys: [N] tie keys; block_of: [N] block (language) of each
    candidate; relevant: [c, R] pool index of each row's relevant candidates
    (-1: none in that slot). Returns int64 [c, n_blocks, R]; absent slots hold 0.

    One pass for all R relevant scores: each row's relevant scores are sorted
    and every candidate is bucketed by how many of them it beats strictly
    (``searchsorted``); a histogram of (row, block, bucket) then gives every
    count. Candidates that equal a relevant score exactly are few and are
    settled by the tie key one by one.
    """
    c, n_slots = relevant.shape
    device = scores.device
    present = relevant >= 0
    idx = relevant.clamp_min(0)
    # absent slots score +inf: never beaten, sorted last
    rel_scores = torch.where(present, scores.gather(1, idx), torch.inf)  # [c, R]
    rel_keys = keys[idx]  # [c, R]
    ordered, order = rel_scores.sort(dim=1)  # ascending
    # bucket = #{relevant scores < score}: bucket >= p + 1 <=> score > ordered[:, p]
    bucket = torch.searchsorted(ordered, scores, out_int32=True)  # [c, N]
    width = n_slots + 1
    row_base = torch.arange(c, device=device, dtype=torch.int32).unsqueeze(1) * (n_blocks * width)
    cell = bucket + (block_of.to(torch.int32) * width).unsqueeze(0) + row_base
    hist = torch.bincount(cell.flatten(), minlength=c * n_blocks * width).view(c, n_blocks, width)
    del cell
    at_least = hist.flip(-1).cumsum(-1).flip(-1)  # [..., b] = #{candidates with bucket >= b}
    strict = at_least[..., 1:]  # [c, nb, R] by sorted position
    counts = torch.empty((c, n_blocks, n_slots), dtype=torch.int64, device=device)
    counts.scatter_(2, order.unsqueeze(1).expand(-1, n_blocks, -1), strict)
    # Exact ties: a candidate equal to the smallest relevant score >= its own. Always the
    # relevant candidates themselves; otherwise duplicates or degenerate scores.
    nearest = ordered.gather(1, bucket.clamp_(max=n_slots - 1).long())
    del bucket
    tie_rows, tie_cols = (scores == nearest).nonzero(as_tuple=True)
    del nearest
    if len(tie_rows):
        v = scores[tie_rows, tie_cols].unsqueeze(1)
        wins = (v == rel_scores[tie_rows]) & (keys[tie_cols].unsqueeze(1) > rel_keys[tie_rows])
        flat = counts.view(c * n_blocks, n_slots)
        flat.index_add_(0, tie_rows * n_blocks + block_of[tie_cols], wins.to(counts.dtype))
    return torch.where(present.unsqueeze(1), counts, 0)


def topk_ties(scores: torch.Tensor, keys: torch.Tensor, k: int) -> torch.Tensor:
    """Indices [c, k] of the top-k columns in ranking order (score desc, then key desc)."""
    n = scores.shape[1]
    k = min(k, n)
    values, idx = scores.topk(min(k + 1, n), dim=1)
    # rows where the (k+1)-th score equals the k-th: the tie at the cut is settled by key below
    overflow = (values[:, k] == values[:, k - 1]).nonzero().flatten().tolist() if k < n else []
    kth = values[:, k - 1 : k]
    idx = idx[:, :k]
    # order ties inside the top-k by key: stable sort by key desc, then by score desc
    by_key = keys[idx].argsort(dim=1, descending=True, stable=True)
    idx = idx.gather(1, by_key)
    idx = idx.gather(1, scores.gather(1, idx).argsort(dim=1, descending=True, stable=True))
    for row in overflow:
        cols = (scores[row] >= kth[row]).nonzero().flatten()
        cols = cols[keys[cols].argsort(descending=True, stable=True)]
        cols = cols[scores[row, cols].argsort(descending=True, stable=True)]
        idx[row] = cols[:k]
    return idx
