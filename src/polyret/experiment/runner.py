"""Run an experiment: evaluate the base model, train and evaluate every strategy x seed, report.

Every step is cached on disk under ``output_dir``: ``runs/<strategy>-seed<k>/`` (a training
run; resumed from its last checkpoint when it was killed) and ``evals/<name>/`` (an
evaluation, written atomically). Rerunning skips what is finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret import __version__
from polyret.errors import ConfigError
from polyret.evaluation.results import LareqaResult
from polyret.experiment.config import ExperimentConfig
from polyret.experiment.report import Centered, write_report
from polyret.experiment.store import DONE_FILE, is_saved, load_result, save_result
from polyret.io import write_text

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset
    from polyret.debias import Calibration

logger = logging.getLogger(__name__)

CONFIG_FILE = "experiment.yaml"


def hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    import os

    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _check_or_save_config(config: ExperimentConfig) -> None:
    import yaml

    path = Path(config.output_dir) / CONFIG_FILE
    current = config.to_dict()
    if path.is_file():
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
        # Fill in options added since it was written, so that only real changes differ.
        with contextlib.suppress(ConfigError, TypeError, AttributeError):
            saved = ExperimentConfig.from_dict(saved, source=str(path)).to_dict()
        # Adding strategies or seeds is fine (runs are cached by name); changing shared settings
        # is not. Centering is checked against the centered evaluations (_check_centering).
        for key in ("base_model", "train", "eval", "data_dir", "precision"):
            if saved.get(key) != current.get(key):
                raise ConfigError(
                    f"{path}: this output_dir holds an experiment with a different {key!r}; "
                    "use another output_dir, or delete the old one"
                )
        known = {s["name"]: s for s in saved.get("strategies", [])}
        for spec in current["strategies"]:
            if spec["name"] in known and known[spec["name"]] != spec:
                raise ConfigError(
                    f"{path}: strategy {spec['name']!r} changed since its runs were made"
                )
    write_text(path, yaml.safe_dump(current, sort_keys=False, allow_unicode=True))


def _check_centering(config: ExperimentConfig) -> None:
    """Refuse centering settings that differ from those of finished centered evaluations."""
    if config.centering is None:
        return
    want = dataclasses.asdict(config.centering)
    evals = Path(config.output_dir) / "evals"
    for folder in sorted(evals.glob(f"*{config.centering.suffix}")):
        if not is_saved(folder):
            continue
        saved = json.loads((folder / DONE_FILE).read_text(encoding="utf-8")).get("centering", {})
        used = {k: saved.get(k) for k in want}
        if used != want:
            raise ConfigError(
                f"{folder} was centered with {used}, the config now asks for {want}; use another "
                f"output_dir, or delete the centered evaluations (evals/*{config.centering.suffix})"
            )


def centered_folder(folder: Path, config: ExperimentConfig) -> Path | None:
    """Where the centered evaluation of ``folder``'s model goes (None without centering)."""
    if config.centering is None:
        return None
    return folder.with_name(folder.name + config.centering.suffix)


def _evaluate(
    model_spec: str,
    dataset: LareqaDataset,
    config: ExperimentConfig,
    folder: Path,
    meta: dict[str, Any],
    calibration: Calibration | None = None,
    queries: Calibration | None = None,
) -> None:
    """Evaluate ``model_spec`` into ``folder`` and, with ``calibration``, centered into its sibling.

    Both are scored from one encoding of the evaluation texts (the texts are encoded again
    only when centering is added to an experiment whose plain evaluation is already saved).
    """
    centered = centered_folder(folder, config) if calibration is not None else None
    if is_saved(folder) and (centered is None or is_saved(centered)):
        return
    from polyret.evaluation.lareqa import LareqaEvalConfig
    from polyret.models import load_model
    from polyret.precision import set_precision

    logger.info("evaluating %s on %s -> %s", model_spec, config.eval.dataset, folder)
    model = load_model(model_spec)
    precision = set_precision(model, config.precision)  # evaluation and centering calibration
    if config.eval.max_seq_length:
        model.max_seq_length = config.eval.max_seq_length
    start = time.perf_counter()
    options = LareqaEvalConfig(
        batch_size=config.eval.batch_size,
        candidate_text=config.eval.candidate_text,
        seen_languages=config.eval.seen_languages,
    )
    embeddings = options.encode(model, dataset)
    meta = {**meta, "model": model_spec, "precision": precision}
    if not is_saved(folder):
        result = options.score(dataset, embeddings)
        save_result(result, folder, {**meta, "seconds": time.perf_counter() - start})
    if (
        centered is not None
        and calibration is not None
        and config.centering is not None
        and not is_saved(centered)
    ):
        from polyret.debias import fit_centering

        start = time.perf_counter()
        debiaser = fit_centering(
            model,
            calibration,
            method=config.centering.method,
            queries=queries,
            batch_size=config.eval.batch_size,
        )
        result = options.score(dataset, debiaser.transform_lareqa(embeddings))
        centering = {
            **dataclasses.asdict(config.centering),
            "calibration_files": calibration.describe(),
            "query_files": None if queries is None else queries.describe(),
        }
        save_result(
            result,
            centered,
            {**meta, "centering": centering, "seconds_centering": time.perf_counter() - start},
        )


def _load(folder: Path, config: ExperimentConfig) -> tuple[LareqaResult, LareqaResult | None]:
    """A finished evaluation and its centered twin (None when centering is off or not done)."""
    centered = centered_folder(folder, config)
    twin = load_result(centered) if centered is not None and is_saved(centered) else None
    return load_result(folder), twin


def run_experiment(
    config: ExperimentConfig, *, report_only: bool = False, command: str = "(Python API)"
) -> Path:
    """Run (or continue) ``config`` and write its report; returns the report path."""
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.precision import resolve_precision
    from polyret.training.trainer import FINAL_DIR, train

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    folder = resolve_lareqa_folder(config.eval.dataset, config.data_dir)
    dataset = load_lareqa(folder, config.eval.languages)
    eval_data = f"{dataset.n_questions} questions, {dataset.n_candidates} candidates"
    if config.eval.articles:
        dataset = dataset.select_articles(config.eval.articles)
        eval_data = (
            f"the questions of {config.eval.articles} evenly spaced articles (eval.articles): "
            f"{dataset.n_questions} questions, {dataset.n_candidates} candidates, of {eval_data}"
        )
    calibration = queries = None
    if config.centering is not None and not report_only:
        from polyret.debias import load_calibration

        # Read (and check) the calibration text before anything is saved or run.
        calibration = load_calibration(
            config.centering.calibration,
            languages=dataset.langs,
            sentences=config.centering.sentences,
            data_dir=config.data_dir,
            missing_ok=config.centering.uncentered_ok,
        )
        if config.centering.query_calibration is not None:
            from polyret.debias import load_queries

            queries = load_queries(
                config.centering.query_calibration,
                languages=list(calibration.texts),
                sentences=config.centering.sentences,
                data_dir=config.data_dir,
                evaluated=dataset,
            )
    _check_centering(config)
    _check_or_save_config(config)
    meta = {
        "polyret": __version__,
        "dataset": config.eval.dataset,
        "evaluation_data": eval_data,
        "hardware": hardware(),
        "precision": resolve_precision(config.precision),
    }

    base_dir = out / "evals" / "base"
    if report_only and not is_saved(base_dir):
        raise ConfigError(f"{out}: no finished evaluation yet; run without --report-only first")
    if not report_only:
        _evaluate(config.base_model, dataset, config, base_dir, meta, calibration, queries)
    base, base_centered = _load(base_dir, config)
    plain: dict[str, dict[int, LareqaResult]] = {}
    twins: dict[str, dict[int, LareqaResult]] = {}
    total = len(config.seeds) * len(config.strategies)
    done = 0
    for seed in config.seeds:  # seed-major: a partial experiment already compares every strategy
        for spec in config.strategies:
            done += 1
            name = config.run_name(spec, seed)
            eval_dir = out / "evals" / name
            if not report_only:
                twin_dir = centered_folder(eval_dir, config)
                if is_saved(eval_dir) and (
                    calibration is None or (twin_dir and is_saved(twin_dir))
                ):
                    logger.info("run %d/%d: %s is finished (cached)", done, total, name)
                else:
                    train_config = config.train_config(spec, seed)
                    final = Path(train_config.output_dir) / FINAL_DIR
                    if is_saved(eval_dir) and not final.exists():
                        raise ConfigError(
                            f"{eval_dir} is evaluated, but centering it needs its model {final}, "
                            f"which is gone; restore it, or delete {eval_dir} to train it again"
                        )
                    if not final.exists():
                        logger.info("run %d/%d: training %s", done, total, name)
                        resume = (
                            Path(train_config.output_dir) / "polyret_train_config.yaml"
                        ).is_file()
                        train(train_config, resume=resume)
                    _evaluate(
                        str(final),
                        dataset,
                        config,
                        eval_dir,
                        {**meta, "run": name},
                        calibration,
                        queries,
                    )
            if not is_saved(eval_dir):
                continue
            result, twin = _load(eval_dir, config)
            plain.setdefault(spec.name, {})[seed] = result
            if twin is not None:
                twins.setdefault(spec.name, {})[seed] = twin

    runs = {name: list(by_seed.values()) for name, by_seed in plain.items()}
    centered = None
    if base_centered is not None:
        centered_runs = {}
        for name, by_seed in plain.items():
            if set(twins.get(name, {})) >= set(by_seed):  # the same seeds on both sides
                centered_runs[name] = [twins[name][seed] for seed in by_seed]
            else:
                logger.warning(
                    "%s: not every seed is centered yet; its centered rows are left out", name
                )
        centered = Centered(base_centered, centered_runs)

    meta.update(
        command=command,
        base_model=config.base_model,
        seeds=", ".join(map(str, config.seeds)),
        train_steps=config.train.get("max_steps", "see experiment.yaml"),
        wall_time_this_invocation_s=round(time.perf_counter() - start, 1),
    )
    report = write_report(
        config,
        base,
        runs,
        out / "report",
        meta,
        centered=centered,
    )
    if config.report_dir:
        dest = Path(config.report_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for item in (out / "report").iterdir():
            shutil.copy2(item, dest / item.name)
        shutil.copy2(out / CONFIG_FILE, dest / CONFIG_FILE)
    return report
