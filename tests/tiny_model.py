"""The tests' tiny random models: :mod:`polyret.testing.models` (shared with the benchmarks)."""

from polyret.testing.models import TRAIN_TEXT, build_tiny_model

__all__ = ["TRAIN_TEXT", "build_tiny_model"]
