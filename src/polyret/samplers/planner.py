"""The batch plan of every epoch: pure numpy, no trainer state (see :mod:`polyret.samplers`)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from polyret.configfile import is_int
from polyret.errors import ConfigError
from polyret.pairs import PairMetadata, PairSet
from polyret.samplers.config import BatchStrategy, PairWeighting, SamplerConfig, resolve_world_size

logger = logging.getLogger(__name__)

__all__ = ["BatchInfo", "BatchPlanner", "PlanCounts", "conflicting_batches", "write_batch_log"]


class BatchInfo(NamedTuple):
    """What one batch of the plan holds, for the batch-composition log."""

    epoch: int
    index: int  # position in the sampler's output for this epoch
    step: int  # optimizer step (= index // world_size)
    rank: int  # data-parallel process that receives it (= index % world_size)
    # "mono", "cross", "mixed" or "align" (the last two: languages "*", every pair its own)
    kind: str
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
    Rows of the mixed pool count once, whether mixed steps use them or not. Alignment rows
    (``align_share``) are the alignment pool; without ``align_share`` they are excluded.
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
    mixed_steps: int = 0
    align_steps: int = 0


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


KINDS = ("mono", "cross", "mixed", "align")


def _apportion(total: int, shares: Sequence[float]) -> list[int]:
    """``total`` steps split by ``shares`` (summing to 1), largest remainders first (ties: the
    earlier kind). With two kinds the first gets ``floor(share * total + 0.5)``, as
    :func:`_hybrid_steps` rounds."""
    exact = [share * total for share in shares]
    counts = [math.floor(x + 1e-9) for x in exact]
    order = sorted(range(len(shares)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def _mixture_steps(shares: Sequence[float], capacity: Sequence[int]) -> list[int]:
    """Steps per kind for the largest ``T`` whose apportionment fits every kind's capacity."""
    total = sum(c for c, s in zip(capacity, shares, strict=True) if s > 0)
    for share, cap in zip(shares, capacity, strict=True):
        if share > 0:
            total = min(total, math.floor((cap + 1) / share))
    while total > 0:
        counts = _apportion(total, shares)
        if all(n <= cap for n, cap in zip(counts, capacity, strict=True)):
            return counts
        total -= 1
    return [0] * len(shares)


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
        self._mixed = (
            self._build_pooled_cell("mixed", self._mixed_rows) if config.uses_mixed else None
        )
        self._align = (
            self._build_pooled_cell("align", self._align_rows) if config.uses_align else None
        )
        self._plan_cache: tuple[int, list[BatchInfo]] | None = None

        mono = [c.steps for c in self._cells if c.kind == "mono"]
        cross = [c.steps for c in self._cells if c.kind == "cross"]
        mixed_cap = self._mixed.steps if self._mixed is not None else 0
        align_cap = self._align.steps if self._align is not None else 0
        n_align = 0
        if config.uses_align:
            n_mono, n_cross, n_mixed, n_align = _mixture_steps(
                config.step_shares, (sum(mono), sum(cross), mixed_cap, align_cap)
            )
        elif config.strategy is BatchStrategy.HYBRID and not config.uses_mixed:
            n_mono, n_cross = _hybrid_steps(config.alpha, sum(mono), sum(cross))
            n_mixed = 0
        elif config.strategy is BatchStrategy.HYBRID:
            shares = (config.mono_share, config.cross_share, config.mixed_fraction)
            n_mono, n_cross, n_mixed = _mixture_steps(shares, (sum(mono), sum(cross), mixed_cap))
        else:
            n_mono, n_cross, n_mixed = sum(mono), sum(cross), mixed_cap
        self._n_mono, self._n_cross, self._n_mixed = n_mono, n_cross, n_mixed
        self._n_align = n_align
        n_rows = len(metadata)
        pooled = [*self._cells, *self._pools]
        eligible = sum(len(c.rows) for c in pooled)
        full = sum(c.steps for c in pooled) * self.step_size
        steps = n_mono + n_cross + n_mixed + n_align
        used = steps * self.step_size
        self.counts = PlanCounts(
            rows=n_rows,
            used=used,
            excluded=n_rows - eligible,
            dropped=eligible - full,
            unused=full - used,
            steps=steps,
            mono_steps=n_mono,
            cross_steps=n_cross,
            batches=steps * self.world_size,
            mixed_steps=n_mixed,
            align_steps=n_align,
        )
        c = self.counts
        logger.log(
            logging.INFO if verbose else logging.DEBUG,
            "batch plan (%s, alpha=%g, mixed_share=%g, %s weighting): %d steps x %d batches x %d "
            "pairs (%d mono, %d cross, %d mixed steps%s); of %d pairs per epoch %d used, %d "
            "excluded, %d dropped (cannot fill a group-unique step), %d unused (hybrid balance)",
            config.strategy.value,
            config.alpha,
            config.mixed_share,
            config.pair_weighting.value,
            c.steps,
            self.world_size,
            self.batch_size,
            c.mono_steps,
            c.cross_steps,
            c.mixed_steps,
            f", {c.align_steps} alignment steps (align_share={config.align_share:g})"
            if config.uses_align
            else "",
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
        # Alignment rows are their own pool (align_share), never in a QA step.
        is_align = meta.is_align
        self._align_rows = np.flatnonzero(eligible & is_align)
        if config.uses_align and len(self._align_rows) == 0:
            raise ConfigError(
                f"align_share={config.align_share:g} needs alignment rows (the same question in "
                "two languages), but the training pairs have none"
                + (f" in {list(config.languages)}" if config.languages else "")
            )
        eligible &= ~is_align
        self._mixed_rows = np.flatnonzero(eligible)
        if config.uses_mixed and not (config.uses_mono or config.uses_cross):
            if not eligible.any():
                raise ConfigError(
                    f"no training pairs{' in ' + str(list(config.languages)) if config.languages else ''}"
                    " for mixed batches"
                )
            return []
        if config.uses_mixed:
            # A three-way mixture: a share of the linked groups (mixed_share) serves the mixed
            # steps, the others the mono and cross cells, so no pair is used twice in an epoch
            # and every kind's step count is known before any epoch is drawn.
            side = self._mixed_partition(eligible)
            self._mixed_rows = np.flatnonzero(eligible & side)
            eligible &= ~side
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

    @property
    def _pools(self) -> list[_Cell]:
        """The pooled cells in use (mixed, alignment): every row its own languages."""
        return [c for c in (self._mixed, self._align) if c is not None]

    def _mixed_partition(self, eligible: np.ndarray) -> np.ndarray:
        """Per row: whether its linked group serves the mixed steps (a ``mixed_share`` of the
        groups, drawn once from the seed, the same in every epoch)."""
        groups = self.metadata.exclusive
        uniq, inverse = np.unique(groups, return_inverse=True)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6D697864]))
        chosen = rng.random(len(uniq)) < self.config.mixed_fraction
        return chosen[inverse.reshape(-1)] & eligible

    def _build_pooled_cell(self, kind: str, rows: np.ndarray) -> _Cell:
        """All rows of a pool (``mixed`` or ``align``) as one cell: any languages per row."""
        uniq, local, counts = np.unique(
            self.metadata.exclusive[rows], return_inverse=True, return_counts=True
        )
        steps = _step_capacity(counts, self.step_size)
        if steps == 0:
            option = "mixed_share" if kind == "mixed" else "align_share"
            raise ConfigError(
                f"too few distinct groups for {kind} batches of {self.step_size} pairs: the "
                f"{kind} pool has {len(uniq)} ({len(rows)} pairs). Lower the batch size or {option}."
            )
        return _Cell(
            kind=kind,
            query_lang="*",
            passage_lang="*",
            rows=rows,
            local_group=local.reshape(-1),
            n_groups=len(uniq),
            unique=len(uniq) == len(rows),
            steps=steps,
        )

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

    def trained_mixture(self, epoch: int) -> tuple[int, tuple[int, ...]]:
        """Steps of ``epoch`` that will be trained, and how many of those are of each of
        :data:`KINDS` (mono, cross, mixed, align): over all epochs, each kind's total is its
        share of ``max_steps`` (largest remainders), within what the epochs' steps of each kind
        allow."""
        counts = (self._n_mono, self._n_cross, self._n_mixed, self._n_align)
        if self._n_mixed == 0 and self._n_align == 0:
            trained, n_mono = self.trained_steps(epoch)
            return trained, (n_mono, trained - n_mono, 0, 0)
        total, max_steps = self.counts.steps, self.config.max_steps
        if max_steps is None or total == 0 or max_steps >= (epoch + 1) * total:
            return total, counts
        trained = max(0, max_steps - epoch * total)
        targets = _apportion(max_steps, self.config.step_shares)
        want = [min(max(t - epoch * n, 0), n) for t, n in zip(targets, counts, strict=True)]
        for k in range(len(KINDS)):  # fill or trim to `trained`, kind by kind
            gap = trained - sum(want)
            want[k] = min(max(want[k] + gap, 0), counts[k]) if gap else want[k]
        return trained, tuple(want)

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
            for c in [*self._cells, *self._pools]
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

        cells = list(self._cells)
        if not self._pools:
            total = self._n_mono + self._n_cross
            is_mono = np.zeros(total, dtype=bool)
            trained, mono_trained = self.trained_steps(int(epoch))
            # The first `trained` steps hold `mono_trained` mono steps, the rest the others.
            head = rng.permutation(trained)[:mono_trained]
            tail = trained + rng.permutation(total - trained)[: self._n_mono - mono_trained]
            is_mono[head] = True
            is_mono[tail] = True
            kind_of_step = np.where(is_mono, 0, 1)
        else:
            # Each pool is one cell whose k-th step is its k-th chunk.
            for pool, n in ((self._mixed, self._n_mixed), (self._align, self._n_align)):
                if pool is not None:
                    cells.append(pool)
                    chunks.append(self._chunks(pool, rng))
                    per_kind[pool.kind] = (np.full(n, len(cells) - 1), np.arange(n))
            trained, head_counts = self.trained_mixture(int(epoch))
            all_counts = (self._n_mono, self._n_cross, self._n_mixed, self._n_align)
            tail_counts = [n - h for n, h in zip(all_counts, head_counts, strict=True)]
            kind_of_step = np.concatenate(
                [
                    rng.permutation(np.repeat(np.arange(len(KINDS)), head_counts)),
                    rng.permutation(np.repeat(np.arange(len(KINDS)), tail_counts)),
                ]
            )
        total = len(kind_of_step)
        step_cell = np.empty(total, dtype=np.int64)
        step_chunk = np.empty(total, dtype=np.int64)
        for code, kind in enumerate(KINDS):
            mask = kind_of_step == code
            if mask.any():
                step_cell[mask], step_chunk[mask] = per_kind[kind]

        b, w = self.batch_size, self.world_size
        batches: list[BatchInfo] = []
        for step, (ci, k) in enumerate(zip(step_cell.tolist(), step_chunk.tolist(), strict=True)):
            cell = cells[ci]
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
    """How many batches hold one query text, passage text or passage key twice, and how many
    hold a row's hard negative as a positive (its text, or with context its paragraph).

    An audit of a plan against its pairs (0 each for a plan built from ``pairs.metadata()``): a
    repeated passage is the positive of one row and an in-batch negative of the other, and a
    negative that is another row's positive is scored against that row's query as wrong.
    """
    out = {"batches": len(batches), "query": 0, "passage": 0, "negative": 0}
    for info in batches:
        rows = [pairs.pairs[i] for i in info.indices]
        out["query"] += len({p.query for p in rows}) < len(rows)
        out["passage"] += len({p.passage_key or p.passage for p in rows}) < len(rows)
        positives = {p.passage for p in rows}
        keys = {p.passage_key for p in rows}
        out["negative"] += any(
            positives.intersection(p.negatives)
            or (keys - {p.passage_key}).intersection(p.negative_keys)
            for p in rows
        )
    return out


def write_batch_log(
    path: str | os.PathLike[str], batches: Sequence[BatchInfo], *, indices: bool = False
) -> None:
    """Write one JSON line per batch (see :meth:`BatchInfo.to_record`) atomically."""
    import json

    from polyret.io import atomic_path

    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for info in batches:
            f.write(json.dumps(info.to_record(indices=indices), ensure_ascii=False) + "\n")
