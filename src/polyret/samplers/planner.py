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


def write_batch_log(
    path: str | os.PathLike[str], batches: Sequence[BatchInfo], *, indices: bool = False
) -> None:
    """Write one JSON line per batch (see :meth:`BatchInfo.to_record`) atomically."""
    import json

    from polyret.io import atomic_path

    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for info in batches:
            f.write(json.dumps(info.to_record(indices=indices), ensure_ascii=False) + "\n")
