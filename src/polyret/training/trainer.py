"""Assemble a ``SentenceTransformerTrainer`` for mono / cross / hybrid batch training.

polyret adds no loss maths and no training loop of its own: the loss is sentence-transformers'
``MultipleNegativesRankingLoss`` (on CPU fed by length-sorted chunks without the padding,
:mod:`polyret.training.loss`; or its GradCache variant), the loop is the Hugging Face
``Trainer`` (checkpoints, exact resume, DDP under ``accelerate launch`` / ``torchrun``). What
polyret brings is the data (parallel pairs with their metadata kept out of the tokenized
columns), the batch sampler, per-column max lengths, dev evaluation with polyret's LAReQA
evaluator, the batch-composition log and the saved configuration.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from polyret import __version__
from polyret.configfile import flat_options
from polyret.errors import ConfigError
from polyret.io import atomic_path, check_output_dir, write_json, write_text
from polyret.training.config import TrainConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from polyret.data.lareqa import LareqaDataset
    from polyret.pairs import PairSet

logger = logging.getLogger(__name__)

CONFIG_FILE = "polyret_train_config.yaml"
SAMPLER_FILE = "polyret_sampler.json"
BATCH_LOG_DIR = "batch_composition"
FINAL_DIR = "final"
SUMMARY_FILE = "train_summary.json"
# The sentence-transformers task of each training column (for its max length); hard-negative
# columns (negative_1, ...) are documents too.
COLUMN_TASKS = {"query": "query", "passage": "document"}


def column_task(column: str) -> str:
    """The task (prompt and max length) of a training column."""
    return COLUMN_TASKS.get(column, "document")


# How a run saved before an option existed trained without it (where the option's default now
# does something else): resuming it must keep that.
LEGACY = {"length_chunk_size": 0, "loss_precision": "autocast"}
# Options that may change between a run and its resumption; any other change is refused.
RESUMABLE_CHANGES = {
    "eval_steps",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "dataloader_workers",
    "device",
    "eval_batch_size",
    "output_dir",
}


@dataclass
class TrainData:
    """What the trainer consumes: training pairs, and the dev split for evaluation."""

    train: PairSet
    dev: LareqaDataset | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    output_dir: Path
    final_model: Path
    global_step: int
    seconds: float
    samples_per_second: float
    dev_metrics: dict[str, float]
    log_history: list[dict[str, Any]]


def load_training_data(config: TrainConfig) -> TrainData:
    """Load the QA set, hold out dev articles, build pairs (+ NTREX pairs)."""
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.data.registry import data_root
    from polyret.data.splits import split_by_article
    from polyret.pairs import add_hard_negatives, build_pairs, load_ntrex_pairs

    folder = resolve_lareqa_folder(config.dataset, config.data_dir)
    data = load_lareqa(folder, config.languages)
    split = split_by_article(
        data,
        dev_fraction=config.dev_fraction,
        seed=config.seed,
        exclude_titles=config.exclude_titles,
    )
    pairs = build_pairs(
        data,
        exclude_titles=config.exclude_titles,
        context=config.context,
        ids=split.train_ids,
    )
    summary: dict[str, Any] = {
        "dataset": str(folder),
        "languages": data.langs,
        "train_ids": len(split.train_ids),
        "dev_ids": len(split.dev_ids),
        "dev_articles": list(split.dev_articles),
        "excluded_ids": len(split.excluded_ids),
        "lareqa_pairs": len(pairs),
    }
    if config.hard_negatives:
        pairs, dropped = add_hard_negatives(
            pairs, data, config.hard_negatives, config.negative_source, seed=config.seed
        )
        summary["hard_negatives"] = config.hard_negatives
        summary["pairs_without_negatives"] = dropped
    if config.ntrex_languages:
        ntrex = load_ntrex_pairs(data_root(config.data_dir), config.ntrex_languages)
        summary["ntrex_pairs"] = len(ntrex)
        pairs = pairs + ntrex
    dev = data.select_ids(split.dev_ids) if split.dev_ids else None
    summary["pairs"] = pairs.summary()
    summary["fingerprint"] = {
        # By dataset folder and file name: the same data at another path is the same data.
        "files": {f"{d.path.parent.name}/{d.path.name}": d.sha256 for d in data.languages.values()},
        "pairs": pairs.fingerprint(),
    }
    return TrainData(pairs, dev, summary)


def check_same_data(output_dir: Path, summary: dict[str, Any]) -> None:
    """Refuse to resume a run on other training data than it started with (a file edited, or
    other pairs after filtering), naming what changed. Runs saved before fingerprints pass."""
    path = output_dir / SAMPLER_FILE
    if not path.is_file():
        return
    saved = (json.loads(path.read_text(encoding="utf-8")).get("data") or {}).get("fingerprint")
    now = summary.get("fingerprint")
    if not saved or not now:
        return
    before, after = saved.get("files", {}), now.get("files", {})
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        if name not in before:
            what = "is new"
        elif name not in after:
            what = "is gone"
        else:
            what = f"changed (sha256 {before[name][:12]}… -> {after[name][:12]}…)"
        raise ConfigError(
            f"{output_dir}: cannot resume: training file {name} {what} since the run "
            "started; restore it, or start the run again in another --output-dir"
        )
    if saved.get("pairs") != now.get("pairs"):
        raise ConfigError(
            f"{output_dir}: cannot resume: the training pairs differ from those the run started "
            f"with (the data files are the same: the filtering or pair options changed); start "
            "the run again in another --output-dir"
        )


def _precision_flags(precision: str, device: str | None) -> dict[str, Any]:
    """Trainer arguments for ``precision`` resolved on the training device (``polyret.precision``).

    bf16 on CPU is the Trainer's own mixed precision: with ``use_cpu`` accelerate runs the
    forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)`` and keeps float32
    master weights and optimizer state.
    """
    import torch

    from polyret.precision import default_device, resolve_precision

    resolved = resolve_precision(precision, device or default_device())
    on_cpu = torch.device(device or default_device()).type == "cpu"
    return {
        "fp16": resolved == "fp16",
        "bf16": resolved == "bf16",
        # transformers refuses bf16 without a bf16 GPU unless told to train on the CPU
        "use_cpu": device == "cpu" or (on_cpu and resolved != "fp32"),
    }


def _prompts(
    model: SentenceTransformer, columns: Sequence[str] = ("query", "passage")
) -> dict[str, str]:
    """Training prompts per column, taken from the model so training matches inference."""
    prompts = model.prompts or {}
    by_task = {
        "query": prompts.get("query"),
        "document": prompts.get("passage") or prompts.get("document"),
    }
    return {c: by_task[column_task(c)] for c in columns if by_task[column_task(c)]}


def make_collator(
    model: SentenceTransformer,
    config: TrainConfig,
    prompts: dict[str, str],
    columns: Sequence[str] = ("query", "passage"),
) -> Any:
    """sentence-transformers' collator, truncating queries and passages to their own max lengths.

    Its public per-task lengths: ``router_mapping`` names the task of each column and
    ``max_length`` the length of each task. A plain (picklable) collator, so dataloader
    workers can use it.
    """
    from sentence_transformers.sentence_transformer.data_collator import (
        SentenceTransformerDataCollator,
    )

    return SentenceTransformerDataCollator(
        preprocess_fn=model.preprocess,
        prompts=prompts,
        router_mapping={c: column_task(c) for c in columns},
        max_length={"query": config.max_query_length, "document": config.max_passage_length},
    )


class LareqaDevEvaluator(BaseEvaluator):
    """Dev evaluation during training with polyret's LAReQA evaluator (all settings)."""

    def __init__(
        self,
        dataset: LareqaDataset,
        batch_size: int,
        name: str = "dev",
        precision: str | None = None,
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.batch_size = batch_size
        self.precision = precision  # encode at the training precision (None: as the model is)
        self.name = name
        self.primary_metric = f"{name}_multi_map"
        self.history: list[dict[str, Any]] = []

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa

        result = evaluate_lareqa(
            model,
            self.dataset,
            LareqaEvalConfig(
                batch_size=self.batch_size, show_progress=False, precision=self.precision
            ),
        )
        summary = result.summary()
        keys = ("mono_map", "cross_map", "multi_map", "rank_distance", "same_lang_first")
        metrics = {f"{self.name}_{k}": float(summary[k]) for k in keys if k in summary}
        self.history.append({"epoch": epoch, "step": steps, **metrics})
        logger.info(
            "dev evaluation at step %s: %s", steps, {k: round(v, 4) for k, v in metrics.items()}
        )
        return metrics

    @property
    def description(self) -> str:
        return "polyret LAReQA dev evaluation"


def _trained_precision(flags: dict[str, bool]) -> str:
    """The precision the Trainer's mixed-precision ``flags`` train in."""
    return "bf16" if flags["bf16"] else "fp16" if flags["fp16"] else "fp32"


def check_same_run(output_dir: str | os.PathLike[str], config: TrainConfig) -> None:
    """Raise :class:`ConfigError` unless ``config`` is the run saved in ``output_dir``.

    The check ``train(..., resume=True)`` makes; scripts that reuse finished runs call it too.
    """
    flags = _precision_flags(config.precision, config.device)
    _check_resume(Path(output_dir), config, _trained_precision(flags))


def _check_resume(output_dir: Path, config: TrainConfig, precision: str = "fp32") -> None:
    """Refuse to resume with other options, or at another resolved precision, than the run had.

    Options are compared by flat name, so a run saved with the sampler's options at the top
    level (before ``TrainConfig.sampler``) compares equal to the same options under ``sampler``.
    """
    import yaml

    saved_path = output_dir / CONFIG_FILE
    if not saved_path.is_file():
        raise ConfigError(
            f"{output_dir}: nothing to resume (no {CONFIG_FILE}); start without --resume"
        )
    saved = yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {}
    if isinstance(saved.get("config"), dict):  # written by polyret <= 0.1.0 under a "config" key
        saved = saved["config"]
    saved = flat_options(TrainConfig, saved, str(saved_path))
    # An option added since the run was saved compares as what the run did without it (its
    # LEGACY value); the others as their defaults, which keep the old behaviour.
    defaults = {**TrainConfig().option_values(), **LEGACY}
    missing = {k for k in defaults if k not in saved}
    saved = {**{k: defaults[k] for k in missing}, **saved}
    now = config.option_values()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        flags = " ".join(
            f"--{k.replace('_', '-')} {saved[k]}" for k in changed if k in missing & set(LEGACY)
        )
        hint = f"; resume with {flags}, as the run trained" if flags else ""
        raise ConfigError(
            f"{saved_path}: cannot resume with a different configuration ({diffs}){hint}"
        )
    sampler_path = output_dir / SAMPLER_FILE
    if sampler_path.is_file():
        # Runs written before the precision option trained in fp32 on CPU.
        ran = json.loads(sampler_path.read_text(encoding="utf-8")).get("precision", "fp32")
        if ran != precision:
            raise ConfigError(
                f"{output_dir}: the run trained in {ran}, resuming would continue in {precision}; "
                f"resume with --precision {ran}"
            )


def _last_checkpoint(output_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` of ``output_dir`` that was written completely, or None.

    A run killed while saving leaves a checkpoint without ``trainer_state.json`` (the Trainer
    writes it last); resuming from it would fail, so it is skipped with a warning.
    """
    import re

    found = []
    for path in output_dir.glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if m and path.is_dir():
            found.append((int(m.group(1)), path))
    for _, path in sorted(found, reverse=True):
        why = _incomplete(path)
        if why is None:
            return path
        logger.warning("%s is incomplete (%s): not resuming from it", path, why)
    return None


def _incomplete(checkpoint: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (a kill while it was written), or None.

    The Trainer writes the weights, the optimizer and RNG states, then ``trainer_state.json``
    last, in place: a killed save leaves the state missing or cut short.
    """
    state = checkpoint / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))["global_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json is cut short"
    if not any(checkpoint.glob("*.safetensors")):
        return "no weights"
    return None


def _check_checkpoint(checkpoint: Path, model: SentenceTransformer) -> None:
    """Raise ConfigError unless ``checkpoint`` holds weights of ``model``'s architecture.

    Checkpoints written before polyret recorded ``add_pooling_layer: false`` reload with a fresh
    pooler that a pooler-less model lacks; the setting is added to such a checkpoint here.
    """
    from polyret.io import write_json
    from polyret.models.save import backbone_kwargs, weight_names

    names = weight_names(checkpoint)
    if names is None:
        raise ConfigError(
            f"{checkpoint}: cannot resume from it: it holds no *.safetensors weights "
            "(remove it to resume from the checkpoint before it)"
        )
    expected = set(model[0].auto_model.state_dict())
    missing, unexpected = sorted(expected - names), sorted(names - expected)
    if missing or unexpected:
        raise ConfigError(
            f"{checkpoint}: cannot resume from it: its weights do not fit the model being trained "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was it written with another "
            "--model?"
        )
    kwargs = backbone_kwargs(model)
    st_config = checkpoint / "sentence_bert_config.json"
    if kwargs and st_config.is_file():
        saved = json.loads(st_config.read_text(encoding="utf-8"))
        model_kwargs = saved.get("model_kwargs") or {}
        if any(model_kwargs.get(k) != v for k, v in kwargs.items()):
            saved["model_kwargs"] = {**model_kwargs, **kwargs}
            write_json(st_config, saved)
            logger.info("%s: recorded %s so that it reloads as trained", checkpoint, kwargs)


def _save_config(
    output_dir: Path,
    config: TrainConfig,
    sampler: dict[str, Any],
    data_summary: dict[str, Any],
    precision: str = "fp32",
) -> None:
    import yaml

    header = (
        f"# polyret {__version__}: resolved training configuration "
        "(rerun: polyret train --config this-file)\n"
        f"# precision {config.precision!r} ran as {precision} on this machine\n"
    )
    write_text(
        output_dir / CONFIG_FILE,
        header + yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True),
    )
    write_json(
        output_dir / SAMPLER_FILE,
        {
            "sampler": sampler,
            "data": data_summary,
            "precision": precision,
            "polyret_version": __version__,
        },
    )


@dataclass
class PreparedRun:
    """A ``SentenceTransformerTrainer`` built from a :class:`TrainConfig`, not yet run."""

    config: TrainConfig
    trainer: Any
    evaluator: LareqaDevEvaluator | None
    checkpoint: Path | None  # where a resumed run continues from
    model_info: dict[str, Any]
    precision: str
    main_process: bool
    length_chunk_size: int = 0  # texts per unpadded chunk the loss embeds (0: padded columns)
    data_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        return Path(self.config.output_dir)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    data: TrainData | None = None,
) -> TrainResult:
    """Train with ``config``; ``resume`` continues from the last checkpoint in ``output_dir``.

    Holds the output folder's lock (:mod:`polyret.lock`) for the whole run.
    """
    from polyret.lock import output_lock

    check_output_dir(config.output_dir, may_hold="a training run")
    with output_lock(config.output_dir, "one training run"):
        return run_training(build_trainer(config, resume=resume, callbacks=callbacks, data=data))


def build_trainer(
    config: TrainConfig,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    data: TrainData | None = None,
) -> PreparedRun:
    """Check the output folder, load data and model, plan batches and build the trainer.

    Writes the resolved configuration (main process). Everything that can be wrong with the
    data or the configuration fails here, before the model is loaded where possible.
    """
    from sentence_transformers import (
        SentenceTransformerTrainer,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from polyret.models import resolve_model
    from polyret.progress import progress_callback
    from polyret.samplers import BatchPlanner, epoch_callback, make_batch_sampler
    from polyret.training.loss import build_loss

    output_dir = check_output_dir(config.output_dir, may_hold="a training run")
    checkpoint = _last_checkpoint(output_dir) if output_dir.is_dir() else None
    precision_flags = _precision_flags(config.precision, config.device)
    precision = _trained_precision(precision_flags)
    if resume:
        _check_resume(output_dir, config, precision)
        if checkpoint is None:
            logger.info("no checkpoint in %s yet: starting from step 0", output_dir)
    elif any(output_dir.glob("checkpoint-*")) or (output_dir / FINAL_DIR).exists():
        raise ConfigError(
            f"{output_dir} already holds a training run; pass --resume to continue it, or choose another --output-dir"
        )

    data = data if data is not None else load_training_data(config)
    if resume:
        check_same_data(output_dir, data.summary)
    sampler_config = config.run_sampler()
    metadata = data.train.metadata()
    # Plan once now so that data that cannot fill a batch fails before the model is loaded.
    planner = BatchPlanner(metadata, sampler_config, config.batch_size, seed=config.seed)
    factory = make_batch_sampler(sampler_config, metadata, log_dir=output_dir / BATCH_LOG_DIR)
    train_dataset = data.train.to_dataset()
    output_dir.mkdir(parents=True, exist_ok=True)
    # Under DDP every process runs this function; only the main one writes shared files.
    main_process = int(os.environ.get("RANK", "0")) == 0
    if main_process:
        _save_config(output_dir, config, planner.describe(), data.summary, precision)

    resolved = resolve_model(config.model)
    model = _load_run_model(config, resolved, data, checkpoint if resume else None)
    columns = data.train.columns
    prompts = _prompts(model, columns)
    loss = build_loss(model, config, config.device)
    evaluator = (
        LareqaDevEvaluator(data.dev, config.eval_batch_size, precision=precision)
        if data.dev is not None
        else None
    )

    has_dev = evaluator is not None
    args = _training_arguments(config, output_dir, factory, prompts, has_dev, precision_flags)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        data_collator=make_collator(model, config, prompts, columns),
        callbacks=[epoch_callback(factory), *(callbacks or [])],
    )
    # The Trainer's log dicts go to polyret's log (stderr), not stdout.
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(progress_callback())
    return PreparedRun(
        config=config,
        trainer=trainer,
        evaluator=evaluator,
        checkpoint=checkpoint if resume else None,
        model_info=resolved.to_dict(),
        precision=precision,
        main_process=main_process,
        length_chunk_size=getattr(loss, "chunk_size", 0),
        data_summary=data.summary,
    )


def _load_run_model(
    config: TrainConfig, resolved: Any, data: TrainData, checkpoint: Path | None
) -> Any:
    """The model to train, seeded, named after the run and with its card filled; the word
    embeddings frozen if asked; ``checkpoint`` (resuming) checked against it."""
    import torch

    from polyret.models import load_model
    from polyret.models.card import fill_training_card
    from polyret.models.identity import model_name

    torch.manual_seed(config.seed)
    model = load_model(resolved, device=config.device)
    # The model being trained is the run's, not the base model's (whose name load_model set):
    # checkpoints and snapshots carry the run's name in their model card.
    model.model_card_data.model_name = model_name(Path(config.output_dir).resolve().name)
    model.model_card_data.base_model_revision = None
    fill_training_card(model, config, data.summary.get("languages") or [])
    if config.freeze_word_embeddings:
        embeddings = model[0].auto_model.get_input_embeddings()
        embeddings.weight.requires_grad_(False)
    if checkpoint is not None:
        _check_checkpoint(checkpoint, model)
    return model


def _training_arguments(
    config: TrainConfig,
    output_dir: Path,
    factory: Any,
    prompts: dict[str, str],
    has_dev: bool,
    precision_flags: dict[str, bool],
) -> Any:
    """sentence-transformers' training arguments for the run (the batch sampler included)."""
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments

    # Pinned memory only speeds up copies to a GPU; on CPU torch warns that it goes unused.
    uses_cuda = torch.cuda.is_available() and not (config.device or "").startswith("cpu")
    return SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the steps
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="steps" if has_dev and config.eval_steps > 0 else "no",
        eval_steps=config.eval_steps or None,
        save_strategy="steps" if config.save_steps > 0 else "no",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        report_to="none",
        batch_sampler=factory,
        prompts=prompts,
        dataloader_num_workers=config.dataloader_workers,
        dataloader_pin_memory=uses_cuda,
        dataloader_drop_last=True,
        **precision_flags,
    )


def run_training(run: PreparedRun) -> TrainResult:
    """Run a prepared trainer; save the final model and ``train_summary.json`` (main process).

    A callback may stop the run early (a time budget, a kill): then no final model is written
    and the run's last checkpoint continues it (``--resume``).
    """
    from polyret.models.card import insert_section, training_section
    from polyret.models.identity import model_name
    from polyret.models.save import save_model

    trainer, evaluator, output_dir = run.trainer, run.evaluator, run.output_dir
    config = run.config
    model = trainer.model
    start = time.perf_counter()
    output = trainer.train(
        resume_from_checkpoint=str(run.checkpoint) if run.checkpoint is not None else None
    )
    seconds = time.perf_counter() - start
    stopped_early = trainer.state.global_step < trainer.state.max_steps
    if stopped_early:
        logger.info(
            "stopped at step %d of %d; continue with --resume",
            trainer.state.global_step,
            trainer.state.max_steps,
        )

    dev_metrics: dict[str, float] = {}
    final = output_dir / FINAL_DIR
    if not stopped_early and run.main_process:
        if evaluator is not None:
            last = evaluator.history[-1] if evaluator.history else {}
            if last.get("step") == trainer.state.global_step:
                dev_metrics = {k: v for k, v in last.items() if k not in ("epoch", "step")}
            else:
                dev_metrics = evaluator(model, steps=trainer.state.global_step)
        with atomic_path(final) as tmp:
            save_model(
                model,
                tmp,
                name=model_name(output_dir.resolve().name),  # the run's name, for mteb and others
                kind="trained",
                base_model=config.model,
                strategy=config.sampler.strategy.value,
                alpha=config.sampler.alpha,
                seed=config.seed,
                polyret_version=__version__,
            )
            section = training_section(
                config,
                steps=trainer.state.global_step,
                precision=run.precision,
                data_summary=run.data_summary,
                dev_metrics=dev_metrics,
            )
            insert_section(tmp, section)
    summary = {
        "polyret_version": __version__,
        "global_step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "finished": not stopped_early,
        "seconds": seconds,
        "train_samples_per_second": output.metrics.get("train_samples_per_second"),
        "train_loss": output.metrics.get("train_loss"),
        "dev_metrics": dev_metrics,
        "dev_history": evaluator.history if evaluator is not None else [],
        "log_history": trainer.state.log_history,
        "model": run.model_info,
        "precision": run.precision,
        "length_chunk_size": run.length_chunk_size,
    }
    if run.main_process:
        write_json(output_dir / SUMMARY_FILE, summary)
    return TrainResult(
        output_dir=output_dir,
        final_model=final,
        global_step=trainer.state.global_step,
        seconds=seconds,
        samples_per_second=float(output.metrics.get("train_samples_per_second") or 0.0),
        dev_metrics=dev_metrics,
        log_history=trainer.state.log_history,
    )


def read_summary(output_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(output_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
