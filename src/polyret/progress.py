"""Progress output: one switch for every bar, and the Trainer's log lines off stdout.

stdout carries results (tables, paths a script can read); progress and logs go to stderr.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger("polyret.training")


def disable_progress_bars() -> None:
    """No progress bars at all: polyret's, sentence-transformers', transformers' (the Trainer's
    included), datasets' and the hub's. tqdm >= 4.66 reads ``TQDM_DISABLE`` for every bar."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # transformers is a dependency; nothing to switch off without it
        pass


def bars_on(wanted: bool = True) -> bool:
    """Whether to draw a bar that the caller ``wanted``: not when every bar is switched off
    (``--no-progress``, ``TQDM_DISABLE``). tqdm reads ``TQDM_DISABLE`` only as the default of
    ``disable``, and an explicit ``disable=False`` (or sentence-transformers'
    ``show_progress_bar=True``) overrides it, so polyret's own bars ask here."""
    return wanted and os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true")


def progress_callback() -> Any:
    """The Trainer's progress bar, with its log dicts (``{'loss': ...}``, ``{'train_runtime':
    ...}``) sent to polyret's log on stderr instead of printed on stdout."""
    from transformers.trainer_callback import ProgressCallback

    class LoggingProgressCallback(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if state.is_world_process_zero and logs:
                shown = {
                    k: f"{v:.4g}" if isinstance(v, float) else v
                    for k, v in logs.items()
                    if k != "total_flos"
                }
                logger.info("step %d: %s", state.global_step, shown)

    return LoggingProgressCallback()
