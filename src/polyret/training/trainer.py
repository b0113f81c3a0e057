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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret import __version__
from polyret.errors import ConfigError, ModelError
from polyret.evaluation.dev import LareqaDevEvaluator
from polyret.evaluation.lareqa import CandidateText
from polyret.io import atomic_path, check_output_dir, write_json
from polyret.training.config import TrainConfig
from polyret.training.data import TrainData, column_prompts, load_training_data, make_collator
from polyret.training.resume import (
    check_checkpoint,
    check_resume,
    check_same_data,
    differing_weights,
    last_checkpoint,
    save_run_config,
)

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset

logger = logging.getLogger(__name__)

BATCH_LOG_DIR = "batch_composition"
FINAL_DIR = "final"
SUMMARY_FILE = "train_summary.json"


@dataclass
class TrainResult:
    output_dir: Path
    final_model: Path
    global_step: int
    seconds: float
    samples_per_second: float
    dev_metrics: dict[str, float]
    log_history: list[dict[str, Any]]
    best_step: int | None = None  # with best_metric: the step of the checkpoint kept as final


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


def _trained_precision(flags: dict[str, bool]) -> str:
    """The precision the Trainer's mixed-precision ``flags`` train in."""
    return "bf16" if flags["bf16"] else "fp16" if flags["fp16"] else "fp32"


def check_same_run(output_dir: str | os.PathLike[str], config: TrainConfig) -> None:
    """Raise :class:`ConfigError` unless ``config`` is the run saved in ``output_dir``.

    The check ``train(..., resume=True)`` makes; scripts that reuse finished runs call it too.
    """
    flags = _precision_flags(config.precision, config.device)
    check_resume(Path(output_dir), config, _trained_precision(flags))


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


def dev_evaluator(
    dataset: LareqaDataset, config: TrainConfig, precision: str | None = None
) -> LareqaDevEvaluator:
    """The dev evaluator of a run: its eval batch size, and candidates written as its passages
    are (with their paragraph when it trains with ``context``)."""
    text = CandidateText.SENTENCE_CONTEXT if config.context else CandidateText.SENTENCE
    return LareqaDevEvaluator(
        dataset, config.eval_batch_size, precision=precision, candidate_text=text.value
    )


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
    checkpoint = last_checkpoint(output_dir) if output_dir.is_dir() else None
    precision_flags = _precision_flags(config.precision, config.device)
    precision = _trained_precision(precision_flags)
    if resume:
        check_resume(output_dir, config, precision)
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
        save_run_config(output_dir, config, planner.describe(), data.summary, precision)

    resolved = resolve_model(config.model)
    model = _load_run_model(config, resolved, data, checkpoint if resume else None)
    columns = data.train.columns
    prompts = column_prompts(model, columns)
    loss = build_loss(model, config, config.device)
    evaluator = dev_evaluator(data.dev, config, precision) if data.dev is not None else None

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
        check_checkpoint(checkpoint, model)
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
    best = config.best_metric is not None and has_dev
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
        # best_metric: the Trainer tracks the best dev score, keeps that checkpoint beside the
        # newest and loads it at the end (checked in run_training). At a limit of 1 it would
        # delete every other checkpoint when the run ends, the newest too: a run stopped early
        # would resume from its best step, so two are kept.
        save_total_limit=max(config.save_total_limit, 2) if best else config.save_total_limit,
        load_best_model_at_end=best,
        metric_for_best_model=f"dev_{config.best_metric}" if best else None,
        greater_is_better=True if best else None,
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
    best_step = None
    final = output_dir / FINAL_DIR
    if not stopped_early and run.main_process:
        if evaluator is not None and config.best_metric and trainer.state.best_model_checkpoint:
            best_step, dev_metrics = _best_checkpoint(run)
        elif evaluator is not None:
            if config.best_metric:
                logger.warning(
                    "best_metric %s: no checkpoint was evaluated; the final model is the last "
                    "step's",
                    config.best_metric,
                )
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
                best_step=best_step,
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
        "best_metric": config.best_metric,
        "best_step": best_step,
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
        best_step=best_step,
    )


def _best_checkpoint(run: PreparedRun) -> tuple[int, dict[str, float]]:
    """The step of the best dev checkpoint, which the Trainer has loaded into the model, and the
    model's dev metrics, evaluated again: sentence-transformers logs a failed load and goes on
    with the last step's weights, so the weights are compared with the checkpoint's and the
    score with the one the step had."""
    trainer, evaluator, config = run.trainer, run.evaluator, run.config
    assert evaluator is not None  # called only for a run with a dev split
    state = trainer.state
    checkpoint = Path(str(state.best_model_checkpoint))
    step = state.best_global_step or int(checkpoint.name.rsplit("-", 1)[-1])
    differing = differing_weights(checkpoint, trainer.model)
    if differing:
        raise ModelError(
            f"{checkpoint}: the best checkpoint (step {step}) was not loaded: {len(differing)} "
            f"of its tensors differ from the model at the end ({', '.join(differing[:3])}). "
            "Its weights are still in that folder."
        )
    metrics = evaluator(trainer.model, steps=step)
    evaluator.history.pop()  # a check of the loaded weights, not a new point of the run's history
    score = metrics[f"{evaluator.name}_{config.best_metric}"]
    if abs(score - float(state.best_metric)) > 1e-4:
        raise ModelError(
            f"{checkpoint}: the best checkpoint (step {step}, dev "
            f"{config.best_metric} {state.best_metric:.4f}) was not loaded; the model at the end "
            f"scores {score:.4f}. Its weights are still in that folder."
        )
    logger.info(
        "final model: step %d of %d, the best dev %s (%.4f)",
        step,
        state.global_step,
        config.best_metric,
        score,
    )
    return step, metrics


def read_summary(output_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(output_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
