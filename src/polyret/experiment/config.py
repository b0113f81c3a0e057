"""``ExperimentConfig``: which strategies, seeds, training budget and evaluation to compare."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from polyret.configfile import (
    check_known_keys,
    check_language_codes,
    config_options,
    flag_value,
    flat_options,
    from_options,
    internal,
    is_int,
    option,
    read_yaml_mapping,
)
from polyret.debias.options import Method
from polyret.errors import ConfigError, parse_enum
from polyret.models.resolve import DEFAULT_MODEL
from polyret.precision import DEFAULT_PRECISION, PRECISIONS, parse_precision
from polyret.samplers.config import BatchStrategy, SamplerConfig
from polyret.training.config import TrainConfig

T = TypeVar("T")

# The saved configuration, beside an experiment's output and its report.
CONFIG_FILE = "experiment.yaml"
# Set by the runner for every run; an experiment's `train:` section may not set them.
RUN_KEYS = ("model", "output_dir", "strategy", "alpha", "mixed_share", "seed")


class KeepWeights(str, Enum):
    """What stays of a run's weights once it is evaluated: everything (checkpoints and the final
    model), the final model (centering can still be added later), or nothing."""

    ALL = "all"
    FINAL = "final"
    NONE = "none"


OUT_OF_DOMAIN = ("ntrex",)


# The Holm family of a strategy that names none: its tests are corrected together with those
# of every other strategy of the family, and apart from other families' (each a question the
# experiment asks on its own, such as an alpha sweep beside the main comparison).
MAIN_FAMILY = "main"


@dataclass(frozen=True)
class StrategySpec:
    """One training condition: ``mono``, ``cross``, ``mixed`` or ``hybrid`` (with ``alpha`` and
    ``mixed_share``), and the training options it sets on top of the experiment's ``train:``
    section (``train``: e.g. ``hard_negatives``, ``batch_size``; checked like that section).

    ``family``: the Holm family its significance tests are corrected in (default ``main``).
    """

    name: str
    strategy: BatchStrategy | str
    alpha: float = 0.5
    mixed_share: float = 0.0
    train: dict[str, Any] = field(default_factory=dict, hash=False)
    family: str = MAIN_FAMILY

    def __post_init__(self) -> None:
        strategy = parse_enum(BatchStrategy, self.strategy, f"strategy {self.name!r}: strategy")
        object.__setattr__(self, "strategy", strategy)  # frozen: set once, checked
        if not isinstance(self.family, str) or not self.family.strip():
            raise ConfigError(
                f"strategy {self.name!r}: family must be a name (e.g. alpha-sweep), "
                f"got {self.family!r}"
            )

    @property
    def mono_share(self) -> float:
        """Share of monolingual batches: 1 for mono-only, 0 for cross-only, alpha for hybrid."""
        return SamplerConfig(self.strategy, self.alpha, mixed_share=self.mixed_share).mono_share


@dataclass
class EvalSpec:
    """Evaluation of every model (the base model included) on one LAReQA dataset."""

    dataset: str = option("LAReQA dataset: xquad-r, mlqa-r or a folder", default="xquad-r")
    languages: list[str] | None = option("languages evaluated (default: all)", default=None)
    seen_languages: list[str] | None = option(
        "the training languages, for the seen vs unseen tables and tests", default=None
    )
    high_resource: list[str] | None = option(
        "high-resource languages, for their table and the degradation test",
        metavar="LANG",
        default=None,
    )
    batch_size: int = option("encoding batch size", default=128)
    candidate_text: str = option(
        "what a candidate is: its sentence, or sentence+context (with its paragraph)",
        default="sentence",
        choices=("sentence", "sentence+context"),
    )
    max_seq_length: int | None = option("max tokens per text (None: the model's)", default=128)
    context: bool = option(
        "also score the base model and every final model with each candidate sentence followed "
        "by its paragraph (sentence+context: how LAReQA's reference code and the published "
        "anchors score), into <run>+context, a Holm family of its own",
        default=False,
    )
    context_max_seq_length: int | None = option(
        "max tokens per text of the sentence+context scoring (None: the model's own, 512 for "
        "the bundled model, as polyret eval does)",
        default=None,
    )
    articles: int | None = option(
        "small budgets: the questions of this many evenly spaced articles and the candidates of "
        "their paragraphs (default: every article)",
        default=None,
    )
    ood_documents: int | None = option(
        "the same for the out-of-domain datasets: this many evenly spaced documents", default=None
    )
    curve_articles: int | None = option(
        "learning-curve points (budgets) are scored on this many articles (default: the "
        "questions of the final evaluation)",
        default=None,
    )

    def __post_init__(self) -> None:
        for key in ("languages", "seen_languages", "high_resource"):
            check_language_codes(getattr(self, key), f"eval.{key}")
        for key in ("articles", "ood_documents", "curve_articles", "context_max_seq_length"):
            value = getattr(self, key)
            if value is not None and (not is_int(value) or value < 1):
                raise ConfigError(f"eval.{key} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.context, bool):
            raise ConfigError(f"eval.context must be true or false, got {self.context!r}")
        if not self.context and self.context_max_seq_length is not None:
            raise ConfigError("eval.context_max_seq_length applies only with eval.context: true")
        if self.context and self.candidate_text != "sentence":
            raise ConfigError(
                "eval.context adds a sentence+context scoring to the sentence one; with "
                f"eval.candidate_text {self.candidate_text!r} every score already has it"
            )


@dataclass
class CenteringSpec:
    """Language centering (``polyret debias``) as a post-processing condition.

    Every evaluated model is also scored with centering fitted on ``calibration`` (a folder of
    ``<lang>.txt`` or ``ntrex``) with that model, from the same encoding of the evaluation texts.
    """

    calibration: str = option(
        "calibration text: a folder of <lang>.txt, or ntrex (NTREX-128's calibration part)",
        default="ntrex",
    )
    method: Method | str = option(
        "center (subtract each language's centroid) or project (also remove the language subspace)",
        default=Method.CENTER,
    )
    sentences: int = option("calibration sentences per language", default=300)
    query_calibration: str | None = option(
        "real queries for the query centroids (polyret debias --query-calibration): a folder of "
        "<lang>.txt or a LAReQA dataset other than the evaluated one (default: calibration text "
        "only)",
        default=None,
    )
    uncentered_ok: bool = option(
        "accept evaluation languages without calibration text: they get no centroid of their "
        "own and take the nearest calibrated one, as the saved module does at encode time",
        default=False,
    )

    def __post_init__(self) -> None:
        self.method = parse_enum(Method, self.method, "centering.method")
        if not isinstance(self.calibration, str) or not self.calibration:
            raise ConfigError(
                f"centering.calibration must be a folder or 'ntrex', got {self.calibration!r}"
            )
        if self.query_calibration is not None and (
            not isinstance(self.query_calibration, str) or not self.query_calibration
        ):
            raise ConfigError(
                "centering.query_calibration must be a folder or a LAReQA dataset name, got "
                f"{self.query_calibration!r}"
            )
        if not is_int(self.sentences) or self.sentences < 1:
            raise ConfigError(f"centering.sentences must be a whole number, got {self.sentences!r}")
        if not isinstance(self.uncentered_ok, bool):
            raise ConfigError(
                f"centering.uncentered_ok must be true or false, got {self.uncentered_ok!r}"
            )

    @property
    def suffix(self) -> str:
        """Appended to a condition's name: ``hybrid-0.5+center``."""
        return f"+{Method(self.method).value}"


@dataclass
class ExperimentConfig:
    """An experiment: strategies x seeds trained from one base model, every model evaluated.

    The scalar options (and those of ``eval:`` and ``centering:``) are :mod:`polyret.configfile`
    options, so ``polyret experiment`` has a flag for each; the sections that are lists or
    free mappings (``train``, ``strategies``, ``seeds``, ``budgets``) are set in the YAML only.
    """

    name: str = option("the experiment's name (report title)")
    output_dir: str = option("runs, evaluations and the report (large; not committed)")
    base_model: str = option("the model every run starts from", default=DEFAULT_MODEL)
    train: dict[str, Any] = internal(default_factory=dict)
    strategies: list[StrategySpec] = internal(default_factory=list)
    seeds: list[int] = internal(default_factory=lambda: [1, 2, 3])
    eval: EvalSpec = field(default_factory=EvalSpec)
    report_dir: str | None = option(
        "where the report, plots and finished evaluations are copied, to commit "
        "(e.g. results/protocol-a)",
        default=None,
    )
    data_dir: str | None = option("data root (default $POLYRET_DATA, then the cache)", default=None)
    centering: CenteringSpec | None = None
    keep_weights: KeepWeights | str = option(
        "what stays of a run's weights once evaluated: all, final or none",
        default=KeepWeights.FINAL,
    )
    # Out-of-domain datasets scored for every model, with and without centering (one encoding
    # per model and dataset): "ntrex" (NTREX-128's evaluation part, news sentence retrieval).
    out_of_domain: list[str] = option(
        f"out-of-domain datasets scored for every model: {', '.join(OUT_OF_DOMAIN)}",
        metavar="DATASET",
        default_factory=list,
    )
    # Learning curves: step budgets at which every run is scored (snapshots of one run; the
    # last must equal train.max_steps). Empty: only the final model is scored.
    budgets: list[int] = internal(default_factory=list)
    precision: str = option(
        "training and evaluation precision: auto, fp32, bf16 or fp16 (polyret.precision)",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
    )

    def __post_init__(self) -> None:
        self.precision = parse_precision(self.precision).value
        if "precision" in self.train:
            raise ConfigError(
                f"experiment {self.name!r}: set precision at the top level of the experiment (it "
                "applies to training and evaluation alike), not as train.precision"
            )
        if self.budgets:
            steps = self.train.get("max_steps")
            ok = all(is_int(b) and b >= 1 for b in self.budgets)
            if not ok or sorted(set(self.budgets)) != list(self.budgets):
                raise ConfigError(
                    f"experiment {self.name!r}: budgets must be increasing step counts, "
                    f"got {self.budgets!r}"
                )
            if self.budgets[-1] != steps:
                raise ConfigError(
                    f"experiment {self.name!r}: the last budget ({self.budgets[-1]}) must equal "
                    f"train.max_steps ({steps!r})"
                )
        unknown = [x for x in self.out_of_domain if x not in OUT_OF_DOMAIN]
        if isinstance(self.out_of_domain, str) or unknown:
            raise ConfigError(
                f"experiment {self.name!r}: out_of_domain must be a list of "
                f"{', '.join(OUT_OF_DOMAIN)}, got {self.out_of_domain!r}"
            )
        self.keep_weights = parse_enum(
            KeepWeights, self.keep_weights, f"experiment {self.name!r}: keep_weights"
        )
        if not self.strategies:
            raise ConfigError(f"experiment {self.name!r}: list at least one strategy")
        names = [s.name for s in self.strategies]
        if len(set(names)) != len(names):
            raise ConfigError(f"experiment {self.name!r}: strategy names repeat: {names}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(
                f"experiment {self.name!r}: seeds must be distinct and non-empty, got {self.seeds}"
            )
        # The train section may give the sampler's options flat or under `sampler:`.
        train = flat_options(TrainConfig, self.train, f"experiment {self.name!r} train")
        for key in RUN_KEYS:
            if key in train:
                raise ConfigError(
                    f"experiment {self.name!r}: train option {key!r} is set per run by the "
                    "experiment"
                )
        if train.get("best_metric") or any(s.train.get("best_metric") for s in self.strategies):
            raise ConfigError(
                f"experiment {self.name!r}: best_metric is not an experiment option: strategies "
                "are compared at the same budget (max_steps), with the recipe chosen beforehand "
                "on a dev split (polyret recipe)"
            )
        # Validate the train section alone (its errors name it), then each strategy on top.
        TrainConfig.from_dict(
            {**train, "model": self.base_model}, source=f"experiment {self.name!r} train"
        )
        for spec in self.strategies:  # validates every training option before anything runs
            run = self.train_config(spec, self.seeds[0])
            if run.ntrex_languages and "ntrex" in self.out_of_domain:
                raise ConfigError(
                    f"experiment {self.name!r}: strategy {spec.name!r} trains on NTREX-128 "
                    "sentence pairs (ntrex_languages), so NTREX-128 is not out of domain for its "
                    "models; drop ntrex from out_of_domain, or train without ntrex_languages"
                )

    def family_of(self, condition: str) -> str:
        """The Holm family of a report condition: its strategy's (``hybrid-0.25+center``: that of
        ``hybrid-0.25``); the base model and unknown names belong to the main family."""
        families = {s.name: s.family for s in self.strategies}
        if condition in families:
            return families[condition]
        return families.get(condition.split("+", 1)[0], MAIN_FAMILY)

    def run_name(self, spec: StrategySpec, seed: int) -> str:
        return f"{spec.name}-seed{seed}"

    def train_config(self, spec: StrategySpec, seed: int) -> TrainConfig:
        source = f"experiment {self.name!r} strategy {spec.name!r} train"
        overrides = flat_options(TrainConfig, spec.train, source)
        for key in (*RUN_KEYS, "precision"):
            if key in overrides:
                raise ConfigError(f"{source}: option {key!r} is set per run by the experiment")
        values = {
            **flat_options(TrainConfig, self.train, f"experiment {self.name!r} train"),
            **overrides,
            "model": self.base_model,
            "output_dir": str(Path(self.output_dir) / "runs" / self.run_name(spec, seed)),
            "strategy": spec.strategy,
            "alpha": spec.alpha,
            **({"mixed_share": spec.mixed_share} if spec.mixed_share else {}),
            "seed": seed,
            "precision": self.precision,
        }
        if self.data_dir is not None and "data_dir" not in self.train:
            values["data_dir"] = self.data_dir
        return TrainConfig.from_dict(values, source=f"experiment {self.name!r} {self._where(spec)}")

    def _where(self, spec: StrategySpec) -> str:
        """Where ``spec``'s options come from, for error messages: the strategy when it sets
        anything of its own, else the train section."""
        own = spec.train or spec.mixed_share or spec.strategy is BatchStrategy.HYBRID
        index = next((i for i, s in enumerate(self.strategies) if s is spec), None)
        if own and index is not None:
            return f"strategies[{index}] ({spec.name!r}) and train"
        return "train"

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], *, source: str = "experiment config"
    ) -> ExperimentConfig:
        values = dict(values)
        _check_keys(values, cls, source)
        for key, kind, what in (
            ("eval", dict, "a mapping (eval: {dataset: xquad-r, ...})"),
            ("train", dict, "a mapping of polyret train options"),
            ("strategies", list, "a list (strategies: [mono, cross, ...])"),
            ("seeds", list, "a list of whole numbers (seeds: [1, 2, 3])"),
            ("budgets", list, "a list of step counts (budgets: [30, 100, 300])"),
            ("out_of_domain", list, "a list (out_of_domain: [ntrex])"),
        ):
            if key in values and not isinstance(values[key], kind):
                raise ConfigError(f"{source}: {key} must be {what}, got {values[key]!r}")
        if "seeds" in values and not all(is_int(x) for x in values["seeds"]):
            raise ConfigError(f"{source}: seeds must be whole numbers, got {values['seeds']!r}")
        eval_values = values.pop("eval", None)
        if eval_values is None:
            eval_values = {}
        elif not eval_values:
            raise ConfigError(
                f"{source}: eval is empty; give at least its dataset (eval: {{dataset: xquad-r}}), "
                "or leave the key out for the defaults"
            )
        eval_spec = _section(EvalSpec, eval_values, f"{source}: eval")
        centering = values.pop("centering", None)
        if centering is not None:
            centering = _section(CenteringSpec, centering, f"{source}: centering")
        strategies = []
        for i, item in enumerate(values.pop("strategies", None) or []):
            if isinstance(item, str):
                item = {"name": item, "strategy": item}
            if not isinstance(item, dict):
                raise ConfigError(
                    f"{source}: strategies[{i}] must be a mapping or a name, got {item!r}"
                )
            _check_keys(item, StrategySpec, f"{source}: strategies[{i}]")
            item.setdefault("name", item.get("strategy", f"strategy{i}"))
            strategies.append(StrategySpec(**item))
        for key in ("name", "output_dir"):
            if key not in values:
                raise ConfigError(f"{source}: missing required key {key!r}")
        return cls(strategies=strategies, eval=eval_spec, centering=centering, **values)

    @classmethod
    def from_yaml(
        cls, path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
    ) -> ExperimentConfig:
        """The experiment of the YAML file at ``path``, with ``overrides`` (flat option names,
        as ``polyret experiment``'s flags give them) set over the file's values."""
        source = f"{path} and command line" if overrides else str(path)
        try:
            values = with_overrides(read_yaml_mapping(path), overrides or {})
            return cls.from_dict(values, source=source)
        except ConfigError as exc:  # every error names the file
            if str(path) in str(exc):
                raise
            raise ConfigError(f"{source}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain values (enum members as their values), as the YAML file holds them."""
        return _plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def with_overrides(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment mapping ``values`` with each option of ``overrides`` (a flat name:
    ``output_dir``, ``dataset``, ``calibration``) set where it belongs, at the top level or in
    its section (``eval:``, ``centering:``; a section the file lacks is started)."""
    options = config_options(ExperimentConfig)
    values = dict(values)
    for name, value in overrides.items():
        if name not in options:
            raise ConfigError(f"no experiment option {name!r}")
        value = flag_value(value)
        path = options[name].path
        if len(path) == 1:
            values[name] = value
        else:
            section = values.get(path[0])
            values[path[0]] = {**(section if isinstance(section, dict) else {}), name: value}
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _section(cls: type[T], values: Any, source: str) -> T:
    """A typed config section (:mod:`polyret.configfile` options) from its YAML mapping."""
    return from_options(cls, flat_options(cls, values, source), source)


def _check_keys(values: dict[str, Any], cls: type, source: str) -> None:
    check_known_keys(values, [f.name for f in dataclasses.fields(cls)], source)
