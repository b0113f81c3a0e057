"""``TrainConfig``: every option of ``polyret train``, from YAML and/or command-line flags.

Each field becomes a flag (``learning_rate`` -> ``--learning-rate``); a YAML file gives the
same keys. Flags override the file. Unknown keys and bad values fail before any training.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from polyret.configfile import check_known_keys, parse_enum, read_yaml_mapping
from polyret.errors import ConfigError
from polyret.precision import DEFAULT_PRECISION, PRECISIONS
from polyret.samplers.config import SamplerConfig


class Loss(str, Enum):
    """The contrastive loss (both are sentence-transformers' own).

    - ``MNRL``: in-batch InfoNCE (``MultipleNegativesRankingLoss``).
    - ``CACHED_MNRL``: the same loss with GradCache, for batches larger than memory
      (``CachedMultipleNegativesRankingLoss``, chunks of ``mini_batch_size``).
    """

    MNRL = "mnrl"
    CACHED_MNRL = "cached_mnrl"


def _opt(help: str, **kw: Any) -> Any:
    return field(metadata={"help": help}, **kw)


@dataclass
class TrainConfig:
    """Hybrid batch training of a multilingual retriever (arXiv 2408.10536)."""

    # model and output
    model: str = _opt(
        "base model: a local dir, a hub id or a bundled model",
        default="bundled:multilingual-e5-small",
    )
    output_dir: str = _opt(
        "where checkpoints, logs, the resolved config and the final model go", default="runs/train"
    )
    # data
    dataset: str = _opt(
        "training QA set: xquad-r, mlqa-r or a folder of LAReQA <lang>.json files", default="mlqa-r"
    )
    data_dir: str | None = _opt("data root (default $POLYRET_DATA, then the cache)", default=None)
    languages: list[str] | None = field(
        default=None, metadata={"help": "training languages (default: every file in the dataset)"}
    )
    exclude_titles: list[str] = field(
        default_factory=lambda: ["Prime number", "Harvard University"],
        metadata={
            "help": "article titles left out of training (e.g. those shared with the evaluation set)"
        },
    )
    dev_fraction: float = _opt("fraction of articles held out as the dev split", default=0.1)
    context: bool = _opt(
        "append the paragraph to the answer sentence as passage context", default=False
    )
    ntrex_languages: list[str] | None = field(
        default=None,
        metadata={
            "help": "also train on NTREX-128 parallel sentences in these languages (cross-lingual "
            "pairs; its calibration part only, the evaluation part is held out)"
        },
    )
    # batches
    strategy: str = _opt("batch strategy: mono, cross or hybrid", default="hybrid")
    alpha: float = _opt("hybrid: probability that a batch is monolingual", default=0.5)
    pair_weighting: str = _opt("how languages/pairs are drawn: uniform or size", default="uniform")
    batch_size: int = _opt("pairs per batch per device", default=32)
    # optimisation
    max_steps: int = _opt("optimizer steps (overrides epochs when > 0)", default=-1)
    epochs: float = _opt("epochs over the training pairs when max_steps <= 0", default=1.0)
    learning_rate: float = _opt("peak learning rate", default=2e-5)
    lr_scheduler: str = _opt(
        "transformers scheduler name: linear, cosine, constant_with_warmup, ...", default="linear"
    )
    warmup_ratio: float = _opt("share of steps used for warm-up", default=0.1)
    weight_decay: float = _opt("AdamW weight decay", default=0.01)
    max_grad_norm: float = _opt("gradient clipping norm", default=1.0)
    max_query_length: int = _opt("max tokens of a query (prompt included)", default=64)
    max_passage_length: int = _opt("max tokens of a passage (prompt included)", default=128)
    freeze_word_embeddings: bool = _opt(
        "freeze the word embedding matrix (less memory, faster on CPU)", default=False
    )
    # loss
    loss: str = _opt(
        "mnrl (in-batch InfoNCE) or cached_mnrl (GradCache, for batches larger than memory)",
        default="mnrl",
    )
    scale: float = _opt("similarity scale = 1 / temperature", default=20.0)
    mini_batch_size: int = _opt("cached_mnrl: texts per forward/backward chunk", default=32)
    gather_across_devices: bool = _opt(
        "under DDP, use the other devices' passages as negatives too", default=True
    )
    # run control
    seed: int = _opt("seed of sampling, initialisation and dropout", default=42)
    precision: str = _opt(
        "auto (bf16 where the CPU or GPU has it natively, else fp32), fp32, bf16, or fp16 (CUDA "
        "only); bf16/fp16 are the Trainer's mixed precision (autocast, float32 master weights)",
        default=DEFAULT_PRECISION,
    )
    eval_steps: int = _opt(
        "evaluate on the dev split every N steps (0: only at the end)", default=0
    )
    eval_batch_size: int = _opt("batch size for dev evaluation encoding", default=64)
    save_steps: int = _opt("checkpoint every N steps (0: only at the end)", default=0)
    save_total_limit: int = _opt(
        "checkpoints kept, the newest (one is enough to resume; each holds the weights and the "
        "optimizer state)",
        default=1,
    )
    logging_steps: int = _opt("log loss every N steps", default=10)
    dataloader_workers: int = _opt("data loader worker processes", default=0)
    device: str | None = _opt("cpu, cuda, ... (default: what accelerate picks)", default=None)

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, why: str) -> ConfigError:
            return ConfigError(f"{name}={value!r}: {why}")

        self.sampler_config()  # strategy, alpha and pair weighting are checked there, once
        if self.precision not in PRECISIONS:
            raise bad("precision", self.precision, f"must be one of {', '.join(PRECISIONS)}")
        parse_enum(Loss, self.loss, "loss")
        for name in (
            "batch_size",
            "max_query_length",
            "max_passage_length",
            "mini_batch_size",
            "eval_batch_size",
        ):
            if getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "must be at least 1")
        if self.batch_size < 2:
            raise bad(
                "batch_size", self.batch_size, "in-batch negatives need at least 2 pairs per batch"
            )
        if not 0.0 <= self.dev_fraction < 1.0:
            raise bad("dev_fraction", self.dev_fraction, "must lie in [0, 1)")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise bad("epochs", self.epochs, "must be positive when max_steps is not set")
        if self.learning_rate <= 0:
            raise bad("learning_rate", self.learning_rate, "must be positive")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise bad("warmup_ratio", self.warmup_ratio, "must lie in [0, 1)")

    def sampler_config(self) -> SamplerConfig:
        """The batch sampler's options (its checks raise ConfigError for bad values)."""
        return SamplerConfig(
            strategy=self.strategy,
            alpha=self.alpha,
            pair_weighting=self.pair_weighting,
            seed=self.seed,
            max_steps=self.max_steps if self.max_steps > 0 else None,
        )

    # ---- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> TrainConfig:
        check_known_keys(values, cls.field_names(), source, "option")
        converted = {k: _coerce(cls, k, v, source) for k, v in values.items()}
        return cls(**converted)


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional) for ``X | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _coerce(cls: type, name: str, value: Any, source: str) -> Any:
    tp, optional = _base_type(_field_type(cls, name))
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{source}: option {name!r} may not be empty")
    origin = typing.get_origin(tp)
    try:
        if origin is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise TypeError("expected a list")
            return [str(v) for v in value]
        if tp is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise TypeError("expected true or false")
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise TypeError("expected an integer")
        if tp in (int, float, str):
            return tp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: option {name!r} = {value!r}: {exc}") from None
    return value


def add_config_arguments(parser: argparse.ArgumentParser, cls: type = TrainConfig) -> None:
    """Add one ``--flag`` per config field, all defaulting to "not given" (``argparse.SUPPRESS``)."""
    for f in dataclasses.fields(cls):
        tp, _ = _base_type(_field_type(cls, f.name))
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "")
        # A help text that explains its default already (or a None default) gets no second one.
        if default is not None and "default" not in help_text:
            help_text += f" (default: {default})"
        if tp is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        elif typing.get_origin(tp) is list:
            parser.add_argument(
                flag, nargs="+", default=argparse.SUPPRESS, metavar="X", help=help_text
            )
        else:
            parser.add_argument(
                flag, type=str, default=argparse.SUPPRESS, metavar=f.name.upper(), help=help_text
            )


def resolve_config(
    config_file: str | None, overrides: dict[str, Any], cls: type = TrainConfig
) -> Any:
    """File values, then flag overrides; validated into ``cls``."""
    values: dict[str, Any] = read_yaml_mapping(config_file) if config_file else {}
    source = str(config_file) if config_file else "command line"
    for key, value in overrides.items():
        if isinstance(value, list) and len(value) == 1 and "," in value[0]:
            value = value[0].split(",")
        values[key] = value
    return cls.from_dict(values, source=source)


Strategy = Literal["mono", "cross", "hybrid"]
