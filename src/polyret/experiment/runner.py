"""Run an experiment: evaluate the base model, train and evaluate every strategy x seed, report.

Every step is cached on disk under ``output_dir``: ``runs/<strategy>-seed<k>/`` (a training
run; resumed from its last checkpoint when it was killed) and ``evals/<name>/`` (an
evaluation, written atomically). Rerunning skips what is finished.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from polyret import __version__
from polyret.errors import ConfigError
from polyret.evaluation.results import LareqaResult
from polyret.experiment.config import ExperimentConfig
from polyret.experiment.report import write_report
from polyret.experiment.store import is_saved, load_result, save_result
from polyret.io import write_text

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
        # Adding strategies or seeds is fine (runs are cached by name); changing shared settings is not.
        for key in ("base_model", "train", "eval", "data_dir"):
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


def _evaluate(
    model_spec: str, dataset: Any, config: ExperimentConfig, folder: Path, meta: dict[str, Any]
) -> LareqaResult:
    if is_saved(folder):
        return load_result(folder)
    from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa
    from polyret.models import load_model

    logger.info("evaluating %s on %s -> %s", model_spec, config.eval.dataset, folder)
    model = load_model(model_spec)
    if config.eval.max_seq_length:
        model.max_seq_length = config.eval.max_seq_length
    start = time.perf_counter()
    result = evaluate_lareqa(
        model,
        dataset,
        LareqaEvalConfig(
            batch_size=config.eval.batch_size,
            candidate_text=config.eval.candidate_text,
            seen_languages=config.eval.seen_languages,
        ),
    )
    save_result(
        result, folder, {**meta, "model": model_spec, "seconds": time.perf_counter() - start}
    )
    return result


def run_experiment(
    config: ExperimentConfig, *, report_only: bool = False, command: str = "(Python API)"
) -> Path:
    """Run (or continue) ``config`` and write its report; returns the report path."""
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.training.trainer import FINAL_DIR, train

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_or_save_config(config)
    start = time.perf_counter()
    folder = resolve_lareqa_folder(config.eval.dataset, config.data_dir)
    dataset = load_lareqa(folder, config.eval.languages)
    meta = {"polyret": __version__, "dataset": config.eval.dataset, "hardware": hardware()}

    if report_only:
        if not is_saved(out / "evals" / "base"):
            raise ConfigError(f"{out}: no finished evaluation yet; run without --report-only first")
        base = load_result(out / "evals" / "base")
    else:
        base = _evaluate(config.base_model, dataset, config, out / "evals" / "base", meta)
    runs: dict[str, list[LareqaResult]] = {}
    total = len(config.seeds) * len(config.strategies)
    done = 0
    for seed in config.seeds:  # seed-major: a partial experiment already compares every strategy
        for spec in config.strategies:
            done += 1
            name = config.run_name(spec, seed)
            eval_dir = out / "evals" / name
            if report_only:
                if is_saved(eval_dir):
                    runs.setdefault(spec.name, []).append(load_result(eval_dir))
                continue
            if not is_saved(eval_dir):
                train_config = config.train_config(spec, seed)
                final = Path(train_config.output_dir) / FINAL_DIR
                if not final.exists():
                    logger.info("run %d/%d: training %s", done, total, name)
                    resume = (Path(train_config.output_dir) / "polyret_train_config.yaml").is_file()
                    train(train_config, resume=resume)
                _evaluate(str(final), dataset, config, eval_dir, {**meta, "run": name})
            else:
                logger.info("run %d/%d: %s is finished (cached)", done, total, name)
            runs.setdefault(spec.name, []).append(load_result(eval_dir))

    meta.update(
        command=command,
        base_model=config.base_model,
        seeds=", ".join(map(str, config.seeds)),
        train_steps=config.train.get("max_steps", "see experiment.yaml"),
        wall_time_this_invocation_s=round(time.perf_counter() - start, 1),
    )
    report = write_report(config, base, runs, out / "report", meta)
    if config.report_dir:
        dest = Path(config.report_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for item in (out / "report").iterdir():
            shutil.copy2(item, dest / item.name)
        shutil.copy2(out / CONFIG_FILE, dest / CONFIG_FILE)
    return report
