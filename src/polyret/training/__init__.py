"""Training: configuration and trainer assembly (losses come from sentence-transformers).

``polyret.training.train`` is imported lazily so that reading a config does not load torch.
"""

from typing import Any

from polyret.training.config import TrainConfig

__all__ = ["PreparedRun", "TrainConfig", "TrainResult", "build_trainer", "run_training", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult", "build_trainer", "run_training", "PreparedRun"):
        from polyret.training import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
