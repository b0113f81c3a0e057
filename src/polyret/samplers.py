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

The plan depends only on the data, the configuration, the seed and the epoch
(``SeedSequence([seed, epoch])``); its length is the same in every epoch and is known without
drawing anything. "Group" above is the *linked* group (``PairMetadata.exclusive``): question ids
that share a query, an answer sentence or a paragraph are one group, so a batch never holds a
passage twice. Only full batches are yielded, so the
trainer's ``drop_last`` is always treated as true.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler

from polyret.configfile import is_int, parse_enum
from polyret.errors import ConfigError
from polyret.pairs import METADATA_COLUMNS, PairMetadata, PairSet, fingerprint_texts

logger = logging.getLogger(__name__)

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


class BatchStrategy(str, Enum):
    """Which kind of batch the sampler builds.

    - ``MONO``: every batch is one language ``L``, queries and passages in ``L``. The baseline for
      monolingual retrieval; cross-lingual pairs in the data are not used.
    - ``CROSS``: every batch is one ordered pair ``(Lq, Lp)`` with ``Lq != Lp``. The baseline for
      cross-lingual retrieval; monolingual pairs are not used.
    - ``HYBRID``: each step is monolingual with probability ``alpha``, otherwise cross-lingual
      (arXiv 2408.10536). Use it to serve monolingual, cross-lingual and multilingual retrieval
      with one model; ``alpha=1`` equals ``MONO`` and ``alpha=0`` equals ``CROSS``.
    """

    MONO = "mono"
    CROSS = "cross"
    HYBRID = "hybrid"


class PairWeighting(str, Enum):
    """How the language (mono) or language pair (cross) of each step is drawn.

    - ``UNIFORM``: the languages / pairs take turns: in each round every one with steps left
      gets one step, in a random order, so small languages are seen as often as large ones
      until they run out (then the larger ones fill the rest of the epoch).
    - ``SIZE``: in proportion to the steps each language / pair has left, i.e. a uniformly
      shuffled order of all steps; the language mix follows the data all through the epoch.
    """

    UNIFORM = "uniform"
    SIZE = "size"


@dataclass
class SamplerConfig:
    """Options of :class:`HybridBatchSampler`; validated on creation (bad values raise ConfigError).

    Attributes:
        strategy: ``mono``, ``cross`` or ``hybrid`` (see :class:`BatchStrategy`).
        alpha: hybrid only: probability that a step is monolingual, in [0, 1].
        pair_weighting: ``uniform`` or ``size`` (see :class:`PairWeighting`).
        world_size: data-parallel processes sharing one optimizer step; ``None`` reads it from
            ``torch.distributed`` (or ``$WORLD_SIZE``), else 1. Use 1 with accelerate's
            ``split_batches=True``, where each batch is split across the processes.
        seed: seed of the plan; ``None`` takes the trainer's seed. Epoch ``e`` draws from
            ``SeedSequence([seed, e])``.
        languages: only use pairs whose query and passage languages are both in this list
            (``None``: every language of the metadata).
        max_steps: the steps (of ``world_size`` batches) that will be trained, when training
            stops inside an epoch; the mono share of the steps trained is then exactly
            ``round(alpha * max_steps)`` (as far as the epochs' mono and cross steps allow),
            not only over whole epochs. ``None``: whole epochs.
    """

    strategy: BatchStrategy | str = BatchStrategy.HYBRID
    alpha: float = 0.5
    pair_weighting: PairWeighting | str = PairWeighting.UNIFORM
    world_size: int | None = None
    seed: int | None = None
    languages: Sequence[str] | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        self.strategy = parse_enum(BatchStrategy, self.strategy, "strategy")
        self.pair_weighting = parse_enum(PairWeighting, self.pair_weighting, "pair_weighting")
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)):
            raise ConfigError(f"alpha={alpha!r}: must be a number in [0, 1]")
        if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
            raise ConfigError(f"alpha={alpha!r}: must lie in [0, 1]")
        self.alpha = float(alpha)
        if self.world_size is not None and not (is_int(self.world_size) and self.world_size >= 1):
            raise ConfigError(f"world_size={self.world_size!r}: must be a positive integer or None")
        if self.seed is not None and not (is_int(self.seed) and self.seed >= 0):
            raise ConfigError(f"seed={self.seed!r}: must be a non-negative integer or None")
        if self.max_steps is not None and not (is_int(self.max_steps) and self.max_steps >= 1):
            raise ConfigError(f"max_steps={self.max_steps!r}: must be a positive integer or None")
        if self.languages is not None:
            langs = self.languages
            if isinstance(langs, str) or not all(isinstance(x, str) and x for x in langs):
                raise ConfigError(f"languages={langs!r}: must be a list of language codes")
            if not langs:
                raise ConfigError("languages=[]: give at least one language, or None for all")
            if len(set(langs)) != len(langs):
                raise ConfigError(f"languages={list(langs)!r}: lists a language twice")
            self.languages = tuple(langs)

    @property
    def uses_mono(self) -> bool:
        """Whether monolingual steps occur."""
        return self.strategy is BatchStrategy.MONO or (
            self.strategy is BatchStrategy.HYBRID and self.alpha > 0.0
        )

    @property
    def uses_cross(self) -> bool:
        """Whether cross-lingual steps occur."""
        return self.strategy is BatchStrategy.CROSS or (
            self.strategy is BatchStrategy.HYBRID and self.alpha < 1.0
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, to record next to a checkpoint."""
        return {
            "strategy": self.strategy.value,
            "alpha": self.alpha,
            "pair_weighting": self.pair_weighting.value,
            "world_size": self.world_size,
            "seed": self.seed,
            "languages": None if self.languages is None else list(self.languages),
            "max_steps": self.max_steps,
        }


def resolve_world_size(world_size: int | None = None) -> int:
    """``world_size`` if given, else the size of the ``torch.distributed`` group, ``$WORLD_SIZE``, 1."""
    if world_size is not None:
        return world_size
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    env = os.environ.get("WORLD_SIZE", "")
    return int(env) if env.isdigit() and int(env) > 0 else 1


class BatchInfo(NamedTuple):
    """What one batch of the plan holds, for the batch-composition log."""

    epoch: int
    index: int  # position in the sampler's output for this epoch
    step: int  # optimizer step (= index // world_size)
    rank: int  # data-parallel process that receives it (= index % world_size)
    kind: str  # "mono" or "cross"
    query_lang: str
    passage_lang: str
    size: int
    indices: tuple[int, ...]  # dataset rows

    def to_record(self, *, indices: bool = False) -> dict[str, Any]:
        """A JSON-able dict; the row indices only when ``indices`` is true."""
        record = self._asdict()
        if indices:
            record["indices"] = list(self.indices)
        else:
            del record["indices"]
        return record


@dataclass(frozen=True)
class PlanCounts:
    """Where the pairs go in every epoch (``rows = used + excluded + dropped + unused``).

    ``excluded``: not eligible (a language outside ``languages``, or a batch type the strategy
    does not use). ``dropped``: leftovers of a cell that cannot fill a full group-unique step.
    ``unused``: full steps not needed this epoch (hybrid keeps the mono share at ``alpha``).
    """

    rows: int
    used: int
    excluded: int
    dropped: int
    unused: int
    steps: int
    mono_steps: int
    cross_steps: int
    batches: int


@dataclass
class _Cell:
    kind: str
    query_lang: str
    passage_lang: str
    rows: np.ndarray  # dataset rows of this cell
    local_group: np.ndarray  # group of each row, renumbered 0..n_groups-1
    n_groups: int
    unique: bool  # every group occurs once
    steps: int  # full group-unique steps per epoch


def _step_capacity(group_counts: np.ndarray, step_size: int) -> int:
    """Most disjoint steps of ``step_size`` rows, no group twice in a step.

    ``t`` steps are possible iff ``sum_g min(m_g, t) >= t * step_size``; that margin is concave
    in ``t`` and 0 at 0, so the feasible ``t`` form an interval and bisection finds its end.
    """
    lo, hi = 0, int(group_counts.sum()) // step_size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(group_counts, mid).sum()) >= mid * step_size:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _hybrid_steps(alpha: float, mono: int, cross: int) -> tuple[int, int]:
    """Largest ``T`` with ``round(alpha*T) <= mono`` and ``T - round(alpha*T) <= cross``."""
    total = mono + cross
    if alpha > 0.0:
        total = min(total, math.floor((mono + 1) / alpha))
    if alpha < 1.0:
        total = min(total, math.floor((cross + 1) / (1.0 - alpha)))
    while total > 0:
        n_mono = math.floor(alpha * total + 0.5)
        if n_mono <= mono and total - n_mono <= cross:
            return n_mono, total - n_mono
        total -= 1
    return 0, 0


class BatchPlanner:
    """Plans the batches of every epoch; pure numpy, no trainer state.

    Args:
        metadata: query language, passage language and group of every dataset row.
        config: the sampler options.
        batch_size: pairs per batch (per process).
        seed: used when ``config.seed`` is None (the trainer's seed).

    Raises:
        ConfigError: an unknown language, no pairs for the strategy, or a language / language
            pair with fewer distinct groups than ``batch_size * world_size``.
    """

    def __init__(
        self,
        metadata: PairMetadata,
        config: SamplerConfig,
        batch_size: int,
        *,
        seed: int = 0,
        verbose: bool = True,
    ) -> None:
        if not (is_int(batch_size) and batch_size >= 1):
            raise ConfigError(f"batch_size={batch_size!r}: must be a positive integer")
        self.metadata = metadata
        self.config = config
        self.batch_size = int(batch_size)
        self.world_size = resolve_world_size(config.world_size)
        self.seed = int(config.seed if config.seed is not None else seed)
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed!r}: must be non-negative")
        self.step_size = self.batch_size * self.world_size
        self._cells = self._build_cells()
        self._plan_cache: tuple[int, list[BatchInfo]] | None = None

        mono = [c.steps for c in self._cells if c.kind == "mono"]
        cross = [c.steps for c in self._cells if c.kind == "cross"]
        if config.strategy is BatchStrategy.HYBRID:
            n_mono, n_cross = _hybrid_steps(config.alpha, sum(mono), sum(cross))
        else:
            n_mono, n_cross = sum(mono), sum(cross)
        self._n_mono, self._n_cross = n_mono, n_cross
        n_rows = len(metadata)
        eligible = sum(len(c.rows) for c in self._cells)
        full = sum(c.steps for c in self._cells) * self.step_size
        used = (n_mono + n_cross) * self.step_size
        self.counts = PlanCounts(
            rows=n_rows,
            used=used,
            excluded=n_rows - eligible,
            dropped=eligible - full,
            unused=full - used,
            steps=n_mono + n_cross,
            mono_steps=n_mono,
            cross_steps=n_cross,
            batches=(n_mono + n_cross) * self.world_size,
        )
        c = self.counts
        logger.log(
            logging.INFO if verbose else logging.DEBUG,
            "batch plan (%s, alpha=%g, %s weighting): %d steps x %d batches x %d pairs "
            "(%d mono, %d cross steps); of %d pairs per epoch %d used, %d excluded, "
            "%d dropped (cannot fill a group-unique step), %d unused (hybrid balance)",
            config.strategy.value,
            config.alpha,
            config.pair_weighting.value,
            c.steps,
            self.world_size,
            self.batch_size,
            c.mono_steps,
            c.cross_steps,
            c.rows,
            c.used,
            c.excluded,
            c.dropped,
            c.unused,
        )
        hybrid = config.strategy is BatchStrategy.HYBRID and 0.0 < config.alpha < 1.0
        if hybrid and (n_mono == 0 or n_cross == 0):
            logger.warning(
                "hybrid alpha=%g leaves %d mono and %d cross steps per epoch",
                config.alpha,
                n_mono,
                n_cross,
            )

    def _build_cells(self) -> list[_Cell]:
        meta, config = self.metadata, self.config
        if len(meta) == 0:
            raise ConfigError("no training pairs: the metadata is empty")
        languages = meta.languages
        allowed = np.ones(len(languages), dtype=bool)
        if config.languages is not None:
            unknown = [x for x in config.languages if x not in languages]
            if unknown:
                raise ConfigError(
                    f"unknown language(s) {unknown}: the training pairs have {list(languages)}"
                )
            allowed = np.isin(np.asarray(languages), np.asarray(config.languages))
        q, p = meta.query_lang.astype(np.int64), meta.passage_lang.astype(np.int64)
        eligible = allowed[q] & allowed[p]
        is_mono = q == p
        if not config.uses_mono:
            eligible &= ~is_mono
        if not config.uses_cross:
            eligible &= is_mono
        if not eligible.any():
            kinds = ["monolingual"] * config.uses_mono + ["cross-lingual"] * config.uses_cross
            raise ConfigError(
                f"strategy {config.strategy.value!r} needs {' or '.join(kinds)} pairs, but the "
                f"training pairs{' in ' + str(list(config.languages)) if config.languages else ''}"
                " have none"
            )

        rows = np.flatnonzero(eligible)
        code = q[rows] * len(languages) + p[rows]
        order = np.argsort(code, kind="stable")
        rows, code = rows[order], code[order]
        bounds = np.flatnonzero(np.diff(code)) + 1
        cells: list[_Cell] = []
        too_small: list[str] = []
        for cell_rows in np.split(rows, bounds):
            lq, lp = languages[q[cell_rows[0]]], languages[p[cell_rows[0]]]
            uniq, local, counts = np.unique(
                meta.exclusive[cell_rows], return_inverse=True, return_counts=True
            )
            steps = _step_capacity(counts, self.step_size)
            kind = "mono" if lq == lp else "cross"
            if steps == 0:
                name = f"language {lq!r}" if kind == "mono" else f"language pair {lq}->{lp}"
                too_small.append(f"{name} has {len(uniq)} distinct groups ({len(cell_rows)} pairs)")
            cells.append(
                _Cell(
                    kind=kind,
                    query_lang=lq,
                    passage_lang=lp,
                    rows=cell_rows,
                    local_group=local.reshape(-1),
                    n_groups=len(uniq),
                    unique=len(uniq) == len(cell_rows),
                    steps=steps,
                )
            )
        if too_small:
            per = f"batch_size {self.batch_size}"
            if self.world_size > 1:
                per += f" x world_size {self.world_size} = {self.step_size}"
            raise ConfigError(
                f"too few distinct groups for {per} (a batch may not repeat a group): "
                + "; ".join(too_small)
                + ". Lower the batch size or leave these languages out."
            )
        for kind, used in (("mono", config.uses_mono), ("cross", config.uses_cross)):
            if used and not any(c.kind == kind for c in cells):
                raise ConfigError(
                    f"strategy {config.strategy.value!r} with alpha={config.alpha:g} needs "
                    f"{'monolingual' if kind == 'mono' else 'cross-lingual'} pairs, but there are none"
                )
        return cells

    def __len__(self) -> int:
        """Number of batches in every epoch."""
        return self.counts.batches

    def trained_steps(self, epoch: int) -> tuple[int, int]:
        """Steps of ``epoch`` that will be trained, and how many of those are monolingual.

        Whole epochs train every step, ``counts.mono_steps`` of them mono. When
        ``config.max_steps`` ends inside ``epoch``, the mono count makes the running total over
        all epochs ``round(alpha * max_steps)``, within what this epoch's steps allow.
        """
        total, n_mono = self.counts.steps, self._n_mono
        max_steps = self.config.max_steps
        if max_steps is None or total == 0 or max_steps >= (epoch + 1) * total:
            return total, n_mono
        trained = max(0, max_steps - epoch * total)
        if self.config.strategy is not BatchStrategy.HYBRID:
            return trained, trained if n_mono else 0
        wanted = math.floor(self.config.alpha * max_steps + 0.5) - epoch * n_mono
        low, high = max(0, trained - self._n_cross), min(trained, n_mono)
        return trained, min(max(wanted, low), high)

    @property
    def cells(self) -> list[dict[str, Any]]:
        """Per language pair: kind, languages, pairs, distinct groups, full steps per epoch."""
        return [
            {
                "kind": c.kind,
                "query_lang": c.query_lang,
                "passage_lang": c.passage_lang,
                "pairs": len(c.rows),
                "groups": c.n_groups,
                "steps": c.steps,
            }
            for c in self._cells
        ]

    def describe(self) -> dict[str, Any]:
        """Configuration and counts, JSON-able, to record next to a checkpoint."""
        return {
            "config": self.config.to_dict(),
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "seed": self.seed,
            "counts": vars(self.counts).copy(),
            "cells": self.cells,
        }

    def _chunks(self, cell: _Cell, rng: np.random.Generator) -> np.ndarray:
        """Shuffle a cell into ``cell.steps`` group-unique steps: an array (steps, step_size)."""
        t, s = cell.steps, self.step_size
        if cell.unique:
            kept = rng.permutation(len(cell.rows))
        else:
            # Random group order, rows of a group kept together and at most t of them: row i of
            # the list goes to step i % t, so a group never lands twice in one step.
            group_key = rng.random(cell.n_groups)[cell.local_group]
            order = np.lexsort((rng.random(len(cell.rows)), group_key))
            g = cell.local_group[order]
            pos = np.arange(len(g))
            first = np.maximum.accumulate(np.where(np.r_[True, g[1:] != g[:-1]], pos, 0))
            kept = order[pos - first < t]
        steps = cell.rows[kept[: t * s]].reshape(s, t).T
        return rng.permuted(steps, axis=1)

    def _draw_cells(self, steps: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Cell (index into ``steps``) of each of ``n`` steps; cell ``i`` has ``steps[i]`` steps."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        cell = np.repeat(np.arange(len(steps)), steps)
        if self.config.pair_weighting is PairWeighting.SIZE:
            return rng.permutation(cell)[:n]
        # Rounds: every cell with steps left gets one step per round, in a random order.
        turn = np.concatenate([np.arange(k) for k in steps])
        order = np.lexsort((rng.random(len(cell)), turn))
        return cell[order][:n]

    def plan(self, epoch: int = 0) -> list[BatchInfo]:
        """The batches of ``epoch``, in the order the sampler yields them (cached per epoch)."""
        if not (is_int(epoch) and epoch >= 0):
            raise ConfigError(f"epoch={epoch!r}: must be a non-negative integer")
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return list(self._plan_cache[1])
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(epoch)]))
        chunks = [self._chunks(cell, rng) for cell in self._cells]
        per_kind: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kind, n in (("mono", self._n_mono), ("cross", self._n_cross)):
            ids = np.asarray(
                [i for i, c in enumerate(self._cells) if c.kind == kind], dtype=np.int64
            )
            drawn = ids[
                self._draw_cells(
                    np.asarray([self._cells[i].steps for i in ids], dtype=np.int64), n, rng
                )
            ]
            # The k-th draw of a cell takes its k-th step.
            occurrence = np.zeros(len(drawn), dtype=np.int64)
            seen: dict[int, int] = {}
            for j, cell in enumerate(drawn.tolist()):
                occurrence[j] = seen.get(cell, 0)
                seen[cell] = occurrence[j] + 1
            per_kind[kind] = (drawn, occurrence)

        total = self._n_mono + self._n_cross
        is_mono = np.zeros(total, dtype=bool)
        trained, mono_trained = self.trained_steps(int(epoch))
        # The first `trained` steps hold `mono_trained` mono steps, the rest the others.
        head = rng.permutation(trained)[:mono_trained]
        tail = trained + rng.permutation(total - trained)[: self._n_mono - mono_trained]
        is_mono[head] = True
        is_mono[tail] = True
        step_cell = np.empty(total, dtype=np.int64)
        step_chunk = np.empty(total, dtype=np.int64)
        for kind, mask in (("mono", is_mono), ("cross", ~is_mono)):
            step_cell[mask], step_chunk[mask] = per_kind[kind]

        b, w = self.batch_size, self.world_size
        batches: list[BatchInfo] = []
        for step, (ci, k) in enumerate(zip(step_cell.tolist(), step_chunk.tolist(), strict=True)):
            cell = self._cells[ci]
            rows = chunks[ci][k].tolist()
            for r in range(w):
                batches.append(
                    BatchInfo(
                        epoch=int(epoch),
                        index=step * w + r,
                        step=step,
                        rank=r,
                        kind=cell.kind,
                        query_lang=cell.query_lang,
                        passage_lang=cell.passage_lang,
                        size=b,
                        indices=tuple(rows[r * b : (r + 1) * b]),
                    )
                )
        self._plan_cache = (int(epoch), batches)
        logger.debug("planned epoch %d: %d batches", epoch, len(batches))
        return list(batches)


def conflicting_batches(batches: Sequence[BatchInfo], pairs: PairSet) -> dict[str, int]:
    """How many batches hold one query text, passage text or passage key twice.

    An audit of a plan against its pairs (0 for a plan built from ``pairs.metadata()``): a
    repeated passage is the positive of one row and an in-batch negative of the other.
    """
    out = {"batches": len(batches), "query": 0, "passage": 0}
    for info in batches:
        rows = [pairs.pairs[i] for i in info.indices]
        out["query"] += len({p.query for p in rows}) < len(rows)
        out["passage"] += len({p.passage_key or p.passage for p in rows}) < len(rows)
    return out


def _dataset_fingerprint(dataset: Any) -> str:
    # Slicing a datasets Column reads it in one go; iterating it reads row by row (slow).
    return fingerprint_texts(dataset["query"][:], dataset["passage"][:])


def _check_dataset(dataset: Any, metadata: PairMetadata) -> None:
    """Raise ConfigError unless ``metadata`` describes the rows of ``dataset``."""
    columns = list(getattr(dataset, "column_names", None) or [])
    leaked = [c for c in columns if c in METADATA_COLUMNS]
    if leaked:
        raise ConfigError(
            f"the training dataset has metadata column(s) {leaked}: the data collator would "
            "tokenize them as text; keep them in PairMetadata (PairSet.to_dataset() leaves them out)"
        )
    if len(dataset) != len(metadata):
        raise ConfigError(
            f"the batch sampler's metadata describes {len(metadata)} pairs, but the dataset it is "
            f"asked to sample has {len(dataset)} rows (the trainer also builds batch samplers for "
            "eval datasets: give their metadata to make_batch_sampler as well)"
        )
    checkable = metadata.fingerprint is not None and {"query", "passage"} <= set(columns)
    if checkable and _dataset_fingerprint(dataset) != metadata.fingerprint:
        raise ConfigError(
            "the batch sampler's metadata does not belong to this dataset (its query/passage "
            "texts differ): build both from the same PairSet, in the same row order"
        )


class HybridBatchSampler(DefaultBatchSampler):
    """Batch sampler for ``SentenceTransformerTrainer`` yielding mono / cross / hybrid batches.

    The trainer creates it as ``batch_sampler(dataset, batch_size=..., drop_last=...,
    valid_label_columns=..., generator=..., seed=...)``; bind ``metadata`` and ``config`` first,
    e.g. with :func:`make_batch_sampler`. Plans epoch ``self.epoch`` at every ``__iter__``;
    ``len()`` is exact. ``drop_last`` is always true (only full batches are yielded).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = True,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
        *,
        metadata: PairMetadata,
        config: SamplerConfig | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        if not drop_last:
            logger.debug("HybridBatchSampler yields only full batches; drop_last=False is ignored")
        self.drop_last = True  # accelerate's BatchSamplerShard reads it
        _check_dataset(dataset, metadata)
        self.dataset = dataset
        self.config = config if config is not None else SamplerConfig()
        self.planner = BatchPlanner(metadata, self.config, batch_size, seed=seed, verbose=False)
        self.seed = self.planner.seed
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.iterated_epochs: list[int] = []

    def plan(self, epoch: int | None = None) -> list[BatchInfo]:
        """The batches of ``epoch`` (default: the current one), as :meth:`__iter__` yields them."""
        return self.planner.plan(self.epoch if epoch is None else epoch)

    def __iter__(self) -> Iterator[list[int]]:
        epoch = int(self.epoch)
        plan = self.planner.plan(epoch)
        self.iterated_epochs.append(epoch)
        rank = int(os.environ.get("RANK", "0"))
        # The log is written by what is iterated, so it records the plan that is trained on.
        if self.log_dir is not None and rank == 0:
            write_batch_log(self.log_dir / f"epoch-{epoch}.jsonl", plan)
        logger.info(
            "epoch %d: %d batches planned with seed %d (process %d)",
            epoch,
            len(plan),
            self.seed,
            rank,
        )
        for info in plan:
            yield list(info.indices)

    def __len__(self) -> int:
        return len(self.planner)


@dataclass
class BatchSamplerFactory:
    """Picklable ``batch_sampler`` callable for the trainer (training args are pickled).

    Holds the configuration and the metadata of every dataset the trainer may sample (train and
    eval); picks the metadata whose texts match the dataset it is called with. ``samplers``
    keeps what it built, so the caller can read the plan and log it.
    """

    config: SamplerConfig
    metadata: tuple[PairMetadata, ...]
    log_dir: str | None = None
    samplers: list[HybridBatchSampler] = field(default_factory=list, repr=False, compare=False)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of every sampler built so far (see :class:`EpochCallback`)."""
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def __call__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = True,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
    ) -> HybridBatchSampler:
        metadata = self._select(dataset)
        sampler = HybridBatchSampler(
            dataset,
            batch_size,
            drop_last,
            valid_label_columns,
            generator,
            seed,
            metadata=metadata,
            config=self.config,
            # Only the training dataset's plan is logged (the first metadata).
            log_dir=self.log_dir if metadata is self.metadata[0] else None,
        )
        self.samplers.append(sampler)
        return sampler

    def _select(self, dataset: Any) -> PairMetadata:
        if len(self.metadata) == 1:
            return self.metadata[0]
        sized = [m for m in self.metadata if len(m) == len(dataset)]
        if len(sized) > 1 and {"query", "passage"} <= set(getattr(dataset, "column_names", [])):
            found = _dataset_fingerprint(dataset)
            sized = [m for m in sized if m.fingerprint == found] or sized[:1]
        if not sized:
            raise ConfigError(
                f"no batch-sampler metadata matches a dataset of {len(dataset)} rows "
                f"(metadata sizes: {[len(m) for m in self.metadata]})"
            )
        return sized[0]

    def __getstate__(self) -> dict[str, Any]:
        # The built samplers hold datasets; they are not part of the configuration.
        return {**self.__dict__, "samplers": []}


def make_batch_sampler(
    config: SamplerConfig,
    metadata: PairMetadata,
    *more: PairMetadata,
    log_dir: str | os.PathLike[str] | None = None,
) -> BatchSamplerFactory:
    """The ``batch_sampler`` argument of ``SentenceTransformerTrainingArguments``.

    ``metadata`` describes the training dataset; pass the metadata of eval datasets in ``more``
    when the trainer computes an eval loss (it builds a batch sampler for those too). With
    ``log_dir``, each epoch's training plan is written to ``log_dir/epoch-N.jsonl`` when it is
    iterated. Add :class:`EpochCallback` to the trainer's callbacks so that every epoch reaches
    the sampler whatever wraps it (accelerate's ``BatchSamplerShard`` does not pass
    ``set_epoch`` on in every transformers release).
    """
    return BatchSamplerFactory(
        config=config,
        metadata=(metadata, *more),
        log_dir=None if log_dir is None else str(log_dir),
    )


def epoch_callback(factory: BatchSamplerFactory) -> Any:
    """A ``transformers.TrainerCallback`` that sets the epoch of ``factory``'s samplers.

    Called at every epoch start, before the data loader is iterated, in every process.
    """
    from transformers import TrainerCallback

    class EpochCallback(TrainerCallback):
        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # state.epoch is e at the start of epoch e, e + (steps done) / (steps) after resuming.
            factory.set_epoch(math.floor((state.epoch or 0.0) + 1e-9))

    return EpochCallback()


def write_batch_log(
    path: str | os.PathLike[str], batches: Sequence[BatchInfo], *, indices: bool = False
) -> None:
    """Write one JSON line per batch (see :meth:`BatchInfo.to_record`) atomically."""
    import json

    from polyret.io import atomic_path

    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for info in batches:
            f.write(json.dumps(info.to_record(indices=indices), ensure_ascii=False) + "\n")
