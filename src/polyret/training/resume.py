"""A run folder's saved configuration, and the checks before a run continues from it.

``--resume`` (and the experiment runner) continue only the run that was saved: the same options
(up to those that do not change results), the same resolved precision, the same training data,
and a checkpoint that was written completely and fits the model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret import __version__
from polyret.configfile import flat_options
from polyret.errors import ConfigError
from polyret.io import write_json, write_text
from polyret.training.config import TrainConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

CONFIG_FILE = "polyret_train_config.yaml"
SAMPLER_FILE = "polyret_sampler.json"
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


def check_resume(output_dir: Path, config: TrainConfig, precision: str = "fp32") -> None:
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


def last_checkpoint(output_dir: Path) -> Path | None:
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


def check_checkpoint(checkpoint: Path, model: SentenceTransformer) -> None:
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


def differing_weights(checkpoint: Path, model: SentenceTransformer) -> list[str]:
    """Names of the tensors in ``checkpoint``'s ``*.safetensors`` that are not exactly the
    weights of ``model``'s encoder (absent from it, another shape, or other values)."""
    import torch
    from safetensors import safe_open

    weights = model[0].auto_model.state_dict()
    differing: list[str] = []
    for file in sorted(checkpoint.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                own = weights.get(name)
                saved = f.get_tensor(name)
                if own is None or not torch.equal(own.detach().cpu().to(saved.dtype), saved):
                    differing.append(name)
    return differing


def save_run_config(
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
