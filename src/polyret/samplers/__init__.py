"""Mono / cross / hybrid batch samplers for multilingual contrastive training (arXiv 2408.10536).

Every training pair has a query language, a passage language and a parallel group id (the
question id: its translations share it). A *cell* is one ordered language pair ``(Lq, Lp)``;
``Lq == Lp`` is a monolingual cell. Every batch is drawn from one cell, so it is either
monolingual (queries and passages all in ``L``) or cross-lingual (queries in ``Lq``, passages in
``Lp != Lq``), and no two pairs of a batch share a group id, so translations never act as false
in-batch negatives.

How an epoch is planned (:meth:`BatchPlanner.plan`):

1. Data-parallel training with ``W`` processes gets batches round-robin (accelerate's
   ``BatchSamplerShard``: process ``r`` takes batches ``r, r+W, ...``), so the ``W`` consecutive
   batches of one optimizer step are planned together as one *step* of ``W * batch_size`` pairs
   from one cell with unique group ids: the whole step has one batch type and one language pair,
   and cross-device negatives are never translations either.
2. Each cell's pairs are shuffled into as many group-unique steps as its group sizes allow
   (exactly ``n // (W * batch_size)`` when every group occurs once in the cell); the rest of the
   cell is *dropped* for this epoch.
3. ``mono`` uses every mono step and ``cross`` every cross step. ``hybrid`` uses ``T`` steps of
   which ``round(alpha * T)`` are mono, at random positions, with ``T`` as large as both pools
   allow: every step is mono with probability ``alpha``, with no sampling noise in the share. The
   steps of the larger pool that are not needed stay *unused* this epoch.
4. The cells of the mono (and of the cross) steps take turns (``pair_weighting="uniform"``:
   one step per cell per round, random order within a round) or follow a uniform shuffle of
   all steps, so each cell appears in proportion to its size (``"size"``).

5. ``mixed`` steps (strategy ``mixed``, or ``hybrid`` with ``mixed_share``) draw their rows from
   one pool of every language pair: each pair keeps its own query and passage language, and
   the same group-uniqueness holds over the whole step. In a three-way hybrid a ``mixed_share``
   of the linked groups (drawn once from the seed) serves the mixed steps and the rest the mono
   and cross cells, so no pair is used twice in an epoch; each kind's share of the steps
   trained is exact (largest remainders) over ``max_steps``.
6. ``align_share`` makes that share of the steps *alignment* steps: rows of kind ``align``
   (``PairMetadata.align``; the same question in two languages, ``polyret.pairs
   .build_alignment_pairs``) drawn from their own pool as mixed steps are, never beside a
   question-answer row; the strategy's kinds share the rest in their proportions, each share
   exact over ``max_steps``. Without ``align_share`` alignment rows are excluded.

The plan depends only on the data, the configuration, the seed and the epoch
(``SeedSequence([seed, epoch])``); its length is the same in every epoch and is known without
drawing anything. "Group" above is the *linked* group (``PairMetadata.exclusive``): question ids
that share a query, an answer sentence or a paragraph are one group, so a batch never holds a
passage twice. Only full batches are yielded, so the
trainer's ``drop_last`` is always treated as true.
"""

from typing import Any

from polyret.samplers.config import BatchStrategy, PairWeighting, SamplerConfig, resolve_world_size
from polyret.samplers.planner import (
    BatchInfo,
    BatchPlanner,
    PlanCounts,
    conflicting_batches,
    write_batch_log,
)

__all__ = [
    "BatchInfo",
    "BatchPlanner",
    "BatchSamplerFactory",
    "BatchStrategy",
    "HybridBatchSampler",
    "PairWeighting",
    "PlanCounts",
    "SamplerConfig",
    "conflicting_batches",
    "epoch_callback",
    "make_batch_sampler",
    "resolve_world_size",
    "write_batch_log",
]

# The sampler itself subclasses sentence-transformers' (and so imports torch): loaded on use.
_SAMPLER = ("BatchSamplerFactory", "HybridBatchSampler", "epoch_callback", "make_batch_sampler")


def __getattr__(name: str) -> Any:
    if name in _SAMPLER:
        from polyret.samplers import sampler

        return getattr(sampler, name)
    raise AttributeError(name)
