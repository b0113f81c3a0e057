"""Helpers for tests, benchmarks and studies: tiny random models, simulated experiments.

Nothing here is needed to train or evaluate; it lives in the package so that ``tests/``,
``benchmarks/`` and ``scripts/`` share it without importing each other.
"""

from polyret.testing.models import TRAIN_TEXT, build_tiny_model

__all__ = ["TRAIN_TEXT", "build_tiny_model"]
