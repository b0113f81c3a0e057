"""Options of the batch samplers: strategy, alpha, pair weighting, world size, seed.

Light on purpose (no torch): training and experiment configs validate their batch options here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from polyret.configfile import internal, is_int, option
from polyret.errors import ConfigError, parse_enum

__all__ = ["BatchStrategy", "PairWeighting", "SamplerConfig", "resolve_world_size"]


class BatchStrategy(str, Enum):
    """Which kind of batch the sampler builds.

    - ``MONO``: every batch is one language ``L``, queries and passages in ``L``. The baseline for
      monolingual retrieval; cross-lingual pairs in the data are not used.
    - ``CROSS``: every batch is one ordered pair ``(Lq, Lp)`` with ``Lq != Lp``. The baseline for
      cross-lingual retrieval; monolingual pairs are not used.
    - ``HYBRID``: each step is monolingual with probability ``alpha``, otherwise cross-lingual
      (arXiv 2408.10536). Use it to serve monolingual, cross-lingual and multilingual retrieval
      with one model; ``alpha=1`` equals ``MONO`` and ``alpha=0`` equals ``CROSS``. With
      ``mixed_share > 0`` that share of the steps is ``MIXED`` and ``1 - alpha - mixed_share``
      is cross-lingual.
    - ``MIXED``: every pair of a batch has its own query and passage language (LAReQA's X-Y
      training), so in-batch negatives span languages, the query's own among them: the
      situation of the multilingual pool, where a passage in the query's language competes
      with the answer in another.
    """

    MONO = "mono"
    CROSS = "cross"
    HYBRID = "hybrid"
    MIXED = "mixed"


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

    ``strategy``, ``alpha`` and ``pair_weighting`` are the user's options (``polyret train``
    flags and YAML keys, ``TrainConfig.sampler``); their help texts are in the fields below.
    The other fields are set by the code that runs the sampler:

    Attributes:
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

    strategy: BatchStrategy | str = option(
        "mono (every batch in one language), cross (queries in one language, passages in "
        "another) or hybrid (each batch mono with probability alpha)",
        default=BatchStrategy.HYBRID,
    )
    alpha: float = option("hybrid: probability that a batch is monolingual, in [0, 1]", default=0.5)
    pair_weighting: PairWeighting | str = option(
        "how the language (pair) of each batch is drawn: uniform (they take turns) or size (in "
        "proportion to their pairs)",
        default=PairWeighting.UNIFORM,
    )
    mixed_share: float = option(
        "hybrid: probability that a batch is mixed-language (every pair its own languages); "
        "the rest, 1 - alpha - mixed_share, is cross-lingual",
        default=0.0,
    )
    align_share: float = option(
        "share of the steps that are parallel-question alignment steps (the same question in "
        "two languages, translation ranking as LaBSE trained; rows built from the training "
        "data); the strategy's own shares fill the rest, 1 - align_share",
        default=0.0,
    )
    world_size: int | None = internal(default=None)
    seed: int | None = internal(default=None)
    languages: Sequence[str] | None = internal(default=None)
    max_steps: int | None = internal(default=None)

    def __post_init__(self) -> None:
        self.strategy = parse_enum(BatchStrategy, self.strategy, "strategy")
        self.pair_weighting = parse_enum(PairWeighting, self.pair_weighting, "pair_weighting")
        self.alpha = _share(self.alpha, "alpha")
        self.mixed_share = _share(self.mixed_share, "mixed_share")
        self.align_share = _share(self.align_share, "align_share")
        if self.align_share >= 1.0:
            raise ConfigError(
                f"align_share={self.align_share!r}: must be below 1 (the rest of the steps are "
                "the strategy's question-answer batches)"
            )
        if self.mixed_share > 0.0 and self.strategy is not BatchStrategy.HYBRID:
            raise ConfigError(
                f"mixed_share={self.mixed_share!r}: applies to strategy hybrid only (strategy "
                "mixed makes every batch mixed)"
            )
        if self.alpha + self.mixed_share > 1.0 + 1e-12:
            raise ConfigError(
                f"alpha={self.alpha:g} + mixed_share={self.mixed_share:g} exceeds 1: they are "
                "the shares of mono and mixed steps, the rest is cross-lingual"
            )
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
    def mono_share(self) -> float:
        """Share of monolingual steps: 1 for ``mono``, 0 for ``cross``, ``alpha`` for ``hybrid``."""
        if self.strategy is BatchStrategy.HYBRID:
            return self.alpha
        return 1.0 if self.strategy is BatchStrategy.MONO else 0.0

    @property
    def mixed_fraction(self) -> float:
        """Share of mixed-language steps: 1 for ``mixed``, ``mixed_share`` for ``hybrid``."""
        if self.strategy is BatchStrategy.HYBRID:
            return self.mixed_share
        return 1.0 if self.strategy is BatchStrategy.MIXED else 0.0

    @property
    def cross_share(self) -> float:
        """Share of cross-lingual steps."""
        return max(0.0, 1.0 - self.mono_share - self.mixed_fraction)

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
            self.strategy is BatchStrategy.HYBRID and self.cross_share > 1e-12
        )

    @property
    def uses_mixed(self) -> bool:
        """Whether mixed-language steps occur."""
        return self.mixed_fraction > 0.0

    @property
    def uses_align(self) -> bool:
        """Whether alignment steps occur."""
        return self.align_share > 0.0

    @property
    def step_shares(self) -> tuple[float, float, float, float]:
        """Shares of mono, cross, mixed and alignment steps (summing to 1)."""
        rest = 1.0 - self.align_share
        return (
            rest * self.mono_share,
            rest * self.cross_share,
            rest * self.mixed_fraction,
            self.align_share,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, to record next to a checkpoint."""
        return {
            "strategy": self.strategy.value,
            "alpha": self.alpha,
            "mixed_share": self.mixed_share,
            # Only when used: the records of runs made before the option stay as they were.
            **({"align_share": self.align_share} if self.align_share else {}),
            "pair_weighting": self.pair_weighting.value,
            "world_size": self.world_size,
            "seed": self.seed,
            "languages": None if self.languages is None else list(self.languages),
            "max_steps": self.max_steps,
        }


def _share(value: Any, name: str) -> float:
    """A probability option: a number in [0, 1] (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ConfigError(f"{name}={value!r}: must be a number in [0, 1]")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{name}={value!r}: must lie in [0, 1]")
    return float(value)


def resolve_world_size(world_size: int | None = None) -> int:
    """``world_size`` if given, else the size of the ``torch.distributed`` group, ``$WORLD_SIZE``, 1."""
    if world_size is not None:
        return world_size
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    env = os.environ.get("WORLD_SIZE", "")
    return int(env) if env.isdigit() and int(env) > 0 else 1
