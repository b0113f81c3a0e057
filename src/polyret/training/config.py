"""``TrainConfig``: every option of ``polyret train``, from YAML and/or command-line flags.

Each field becomes a flag (``learning_rate`` -> ``--learning-rate``) and a YAML key; the batch
sampler's options are the fields of :class:`SamplerConfig`, held in ``TrainConfig.sampler``,
and keep flat flags (``--strategy``, ``--alpha``, ``--pair-weighting``). A YAML file gives them
under ``sampler:`` (as the resolved config is saved) or at the top level (as configs written
before that do). Flags override the file. Unknown keys and bad values fail before any training.
The flags and keys come from the fields in one place: :mod:`polyret.configfile`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from polyret.configfile import (
    add_option_arguments,
    check_language_codes,
    flat_options,
    from_options,
    is_int,
    is_option,
    option,
    option_values,
    resolve_options,
    to_mapping,
)
from polyret.errors import ConfigError, parse_enum
from polyret.pairs import NegativeSource
from polyret.precision import DEFAULT_PRECISION, PRECISIONS
from polyret.samplers.config import SamplerConfig

# The recipe the MLQA-R dev split chose for the bundled model (results/recipe/protocol-a/): the
# defaults of `polyret train` and the README's main job (tests/training/test_config.py pins both).
RECIPE_LEARNING_RATE = 5e-5
RECIPE_SCALE = 100.0
# Dev metrics a run can keep its best checkpoint by (``best_metric``): the evaluator's
# ``dev_<metric>`` (polyret.evaluation.dev); mean_map is the mean of the three settings' mAP.
BEST_METRICS = ("mono_map", "cross_map", "multi_map", "mean_map")


class Loss(str, Enum):
    """The contrastive loss (both are sentence-transformers' own).

    - ``MNRL``: in-batch InfoNCE (``MultipleNegativesRankingLoss``).
    - ``CACHED_MNRL``: the same loss with GradCache, for batches larger than memory
      (``CachedMultipleNegativesRankingLoss``, chunks of ``mini_batch_size``).
    """

    MNRL = "mnrl"
    CACHED_MNRL = "cached_mnrl"


@dataclass
class TrainConfig:
    """Hybrid batch training of a multilingual retriever (arXiv 2408.10536)."""

    # model and output
    model: str = option(
        "base model: a local dir, a hub id or a bundled model",
        default="bundled:multilingual-e5-small",
    )
    output_dir: str = option(
        "where checkpoints, logs, the resolved config and the final model go",
        aliases=("--out",),
        default="runs/train",
    )
    # data
    dataset: str = option(
        "training QA set: xquad-r, mlqa-r or a folder of LAReQA <lang>.json files", default="mlqa-r"
    )
    data_dir: str | None = option("data root (default $POLYRET_DATA, then the cache)", default=None)
    languages: list[str] | None = field(
        default=None, metadata={"help": "training languages (default: every file in the dataset)"}
    )
    exclude_titles: list[str] = field(
        default_factory=lambda: ["Prime number", "Harvard University"],
        metadata={
            "help": "article titles left out of training (e.g. those shared with the evaluation set)",
            "metavar": "TITLE",
        },
    )
    dev_fraction: float = option("fraction of articles held out as the dev split", default=0.1)
    context: bool = option(
        "append the paragraph to the answer sentence as passage context", default=False
    )
    ntrex_languages: list[str] | None = field(
        default=None,
        metadata={
            "help": "also train on NTREX-128 parallel sentences in these languages (cross-lingual "
            "pairs; its calibration part only, the evaluation part is held out)"
        },
    )
    hard_negatives: int = option(
        "hard negatives per pair, in the query's language: sentences of the answer's paragraph "
        "(or article) that do not answer it, scored as extra in-batch candidates; for a "
        "cross-lingual pair they are what the multilingual pool gets wrong; with context, "
        "each negative carries its own paragraph (0: none)",
        default=0,
    )
    negative_source: NegativeSource | str = option(
        "where hard negatives come from: paragraph (topped up from the article) or article",
        default=NegativeSource.PARAGRAPH,
    )
    # batches
    sampler: SamplerConfig = option(
        "the batch sampler's options: strategy, alpha, mixed_share, align_share, pair_weighting",
        default_factory=SamplerConfig,
    )
    batch_size: int = option("pairs per batch per device", default=32)
    # optimisation
    max_steps: int = option("optimizer steps (overrides epochs when > 0)", default=-1)
    epochs: float = option("epochs over the training pairs when max_steps <= 0", default=1.0)
    learning_rate: float = option(
        "peak learning rate: the recipe chosen for the bundled multilingual-e5-small on an "
        "MLQA-R dev split (results/recipe/protocol-a/study.json); for another model or data, "
        "choose it the same way (polyret recipe)",
        default=RECIPE_LEARNING_RATE,
    )
    lr_scheduler: str = option(
        "transformers scheduler name: linear, cosine, constant_with_warmup, ...", default="linear"
    )
    warmup_ratio: float = option("share of steps used for warm-up", default=0.1)
    weight_decay: float = option("AdamW weight decay", default=0.01)
    max_grad_norm: float = option("gradient clipping norm", default=1.0)
    max_query_length: int = option("max tokens of a query (prompt included)", default=64)
    max_passage_length: int = option("max tokens of a passage (prompt included)", default=128)
    freeze_word_embeddings: bool = option(
        "freeze the word embedding matrix (less memory, faster on CPU)", default=False
    )
    # loss
    loss: Loss | str = option(
        "mnrl (in-batch InfoNCE) or cached_mnrl (GradCache, for batches larger than memory)",
        default=Loss.MNRL,
    )
    scale: float = option(
        "similarity scale = 1 / temperature: the bundled multilingual-e5-small's dev-split recipe "
        "(results/recipe/protocol-a/study.json; it was pre-trained at temperature 0.01, and "
        "sentence-transformers' 20 cost it monolingual mAP at every learning rate tried); a model "
        "pre-trained at another temperature may want another: choose it on a dev split "
        "(polyret recipe)",
        default=RECIPE_SCALE,
    )
    mini_batch_size: int = option("cached_mnrl: texts per forward/backward chunk", default=32)
    loss_precision: str = option(
        "mnrl under bf16/fp16: fp32 computes the in-batch similarities and the cross-entropy in "
        "float32 outside autocast (at scale 100 the bf16 logits' rounding put the gradient "
        "25-65%% off fp32's, the fp32 loss 1.5%%); autocast keeps them inside the Trainer's "
        "mixed precision, as sentence-transformers does (how the runs before 2026-12-06 trained)",
        default="fp32",
        choices=("fp32", "autocast"),
    )
    length_chunk_size: int | None = option(
        "mnrl: embed each column in length-sorted chunks of this many texts, each padded only to "
        "its own longest text (same loss, less padding); 0: one forward per column padded to the "
        "batch's longest text (sentence-transformers' way); default: 8 on CPU, 0 on GPU",
        default=None,
    )
    gather_across_devices: bool = option(
        "under DDP, use the other devices' passages as negatives too", default=True
    )
    # run control
    seed: int = option("seed of sampling, initialisation and dropout", default=42)
    precision: str = option(
        "auto (bf16 where the CPU or GPU has it natively, else fp32), fp32, bf16, or fp16 (CUDA "
        "only); bf16/fp16 are the Trainer's mixed precision (autocast, float32 master weights)",
        default=DEFAULT_PRECISION,
        choices=PRECISIONS,
    )
    eval_steps: int = option(
        "evaluate on the dev split every N steps (0: only at the end)", default=0
    )
    eval_batch_size: int = option("batch size for dev evaluation encoding", default=64)
    best_metric: str | None = option(
        "keep as the final model the dev-evaluated checkpoint with the highest dev score on this "
        "metric (mean_map: the mean of mono, cross and multi mAP), not the last step; needs a dev "
        "split, and save_steps equal to eval_steps (default: the last step)",
        default=None,
        choices=BEST_METRICS,
    )
    save_steps: int = option("checkpoint every N steps (0: only at the end)", default=0)
    save_total_limit: int = option(
        "checkpoints kept, the newest (one is enough to resume; each holds the weights and the "
        "optimizer state)",
        default=1,
    )
    logging_steps: int = option("log loss every N steps", default=10)
    dataloader_workers: int = option("data loader worker processes", default=0)
    device: str | None = option("cpu, cuda, ... (default: what accelerate picks)", default=None)

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, why: str) -> ConfigError:
            return ConfigError(f"{name}={value!r}: {why}")

        if not isinstance(self.sampler, SamplerConfig):
            raise bad("sampler", self.sampler, "must be a SamplerConfig")
        for f in dataclasses.fields(self.sampler):  # world_size, seed, ...: see run_sampler()
            if not is_option(f) and getattr(self.sampler, f.name) != f.default:
                raise bad(
                    f"sampler.{f.name}",
                    getattr(self.sampler, f.name),
                    "is set by the run (from seed, max_steps and the process group); leave it None",
                )
        if self.precision not in PRECISIONS:
            raise bad("precision", self.precision, f"must be one of {', '.join(PRECISIONS)}")
        self.loss = parse_enum(Loss, self.loss, "loss")
        check_language_codes(self.languages, "languages")
        check_language_codes(self.ntrex_languages, "ntrex_languages")
        self.negative_source = parse_enum(NegativeSource, self.negative_source, "negative_source")
        if not is_int(self.hard_negatives) or self.hard_negatives < 0:
            raise bad("hard_negatives", self.hard_negatives, "must be 0 or more")
        if self.hard_negatives and self.ntrex_languages:
            raise bad(
                "hard_negatives",
                self.hard_negatives,
                "needs LAReQA answer sentences as passages (no ntrex_languages)",
            )
        for name in (
            "batch_size",
            "max_query_length",
            "max_passage_length",
            "mini_batch_size",
            "eval_batch_size",
        ):
            if getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "must be at least 1")
        if self.loss_precision not in ("fp32", "autocast"):
            raise bad("loss_precision", self.loss_precision, "must be fp32 or autocast")
        if self.length_chunk_size is not None:
            if not is_int(self.length_chunk_size) or self.length_chunk_size < 0:
                raise bad("length_chunk_size", self.length_chunk_size, "must be 0 or more")
            if self.length_chunk_size > 0 and self.loss is Loss.CACHED_MNRL:
                raise bad(
                    "length_chunk_size",
                    self.length_chunk_size,
                    "applies to loss mnrl only (cached_mnrl chunks by mini_batch_size)",
                )
        if self.batch_size < 2:
            raise bad(
                "batch_size", self.batch_size, "in-batch negatives need at least 2 pairs per batch"
            )
        if not 0.0 <= self.dev_fraction < 1.0:
            raise bad("dev_fraction", self.dev_fraction, "must lie in [0, 1)")
        if self.best_metric is not None:
            self._check_best_metric(bad)
        if self.max_steps <= 0 and self.epochs <= 0:
            raise bad("epochs", self.epochs, "must be positive when max_steps is not set")
        if self.learning_rate <= 0:
            raise bad("learning_rate", self.learning_rate, "must be positive")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise bad("warmup_ratio", self.warmup_ratio, "must lie in [0, 1)")

    def _check_best_metric(self, bad: Any) -> None:
        if self.best_metric not in BEST_METRICS:
            raise bad("best_metric", self.best_metric, f"must be one of {', '.join(BEST_METRICS)}")
        if self.dev_fraction <= 0:
            raise bad("best_metric", self.best_metric, "needs a dev split (dev_fraction > 0)")
        if self.eval_steps <= 0:
            raise bad("best_metric", self.best_metric, "needs dev evaluations (eval_steps > 0)")
        if 0 < self.max_steps < self.eval_steps:
            raise bad("eval_steps", self.eval_steps, f"more than max_steps ({self.max_steps})")
        # transformers points its best checkpoint only at a step that was saved, and otherwise
        # keeps an older one: with saves less often than evaluations it would load the wrong step.
        if self.save_steps != self.eval_steps:
            raise bad(
                "save_steps",
                self.save_steps,
                f"best_metric keeps a checkpoint of every evaluated step: save_steps must equal "
                f"eval_steps ({self.eval_steps})",
            )

    def run_sampler(self) -> SamplerConfig:
        """``sampler`` with the run's seed and step budget: what the batch sampler gets."""
        return dataclasses.replace(
            self.sampler, seed=self.seed, max_steps=self.max_steps if self.max_steps > 0 else None
        )

    # ---- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The options as plain values, the sampler's under ``sampler`` (the saved form)."""
        return to_mapping(self)

    def option_values(self) -> dict[str, Any]:
        """The options as plain values, keyed by flat name (``alpha``, not ``sampler.alpha``)."""
        return option_values(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
        """From a mapping as YAML gives it: sampler options under ``sampler`` or at the top level
        (both at once only with the same value). Errors name ``source``."""
        return from_options(cls, flat_options(cls, values, source), source)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per option of :class:`TrainConfig`, the sampler's included."""
    add_option_arguments(parser, TrainConfig)


def resolve_config(
    config_file: str | None, overrides: dict[str, Any], preset: str | None = None
) -> TrainConfig:
    """A preset's values (:mod:`polyret.training.presets`), then the file's, then the flag
    overrides (flat names, as argparse gives them); validated."""
    from polyret.training.presets import preset_options

    base = preset_options(preset) if preset else None
    return resolve_options(
        TrainConfig, config_file, overrides, base, f"preset {preset!r}" if preset else None
    )
