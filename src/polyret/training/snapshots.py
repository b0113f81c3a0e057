"""Snapshots of a training run at chosen steps, for learning curves.

A snapshot is the model after optimizer step ``N`` of the run (not a run trained for ``N``
steps: the learning rate schedule is the whole run's), written as a sentence-transformers model
to ``OUTPUT/steps-N``. A resumed run replays its steps exactly, so a snapshot missed by a killed
run is written when the resumed run passes its step.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["snapshot_callback", "snapshot_dir"]


def snapshot_dir(output_dir: str | os.PathLike[str], step: int) -> Path:
    """Where the snapshot of ``step`` goes."""
    return Path(output_dir) / f"steps-{step}"


def snapshot_callback(output_dir: str | os.PathLike[str], steps: Iterable[int]) -> Any:
    """A ``transformers.TrainerCallback`` saving the model at each of ``steps`` (main process)."""
    from transformers import TrainerCallback

    from polyret.io import atomic_path
    from polyret.models.save import save_model

    wanted = {int(s) for s in steps}

    class SnapshotCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step = state.global_step
            if step not in wanted or not state.is_world_process_zero:
                return
            target = snapshot_dir(output_dir, step)
            if not target.exists():
                with atomic_path(target) as tmp:
                    save_model(kwargs["model"], tmp)

    return SnapshotCallback()
