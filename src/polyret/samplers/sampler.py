"""The sentence-transformers batch sampler that yields the planned batches, and its helpers."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentence_transformers.base.sampler import DefaultBatchSampler

from polyret.errors import ConfigError
from polyret.pairs import METADATA_COLUMNS, PairMetadata, fingerprint_texts
from polyret.samplers.config import SamplerConfig
from polyret.samplers.planner import BatchInfo, BatchPlanner, write_batch_log

logger = logging.getLogger(__name__)

__all__ = ["BatchSamplerFactory", "HybridBatchSampler", "epoch_callback", "make_batch_sampler"]


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
        """Set the epoch of every sampler built so far (see :func:`epoch_callback`)."""
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def __call__(self, dataset: Any, *args: Any, **kwargs: Any) -> HybridBatchSampler:
        """``HybridBatchSampler(dataset, *args, **kwargs)``, with this factory's metadata and
        config: the trainer's arguments pass through as they come, by position or by name."""
        metadata = self._select(dataset)
        sampler = HybridBatchSampler(
            dataset,
            *args,
            **kwargs,
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
    iterated. Add :func:`epoch_callback` to the trainer's callbacks so that every epoch reaches
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
