"""Experiments: train several batch strategies over seeds, evaluate all, write one report."""

from polyret.experiment.config import EvalSpec, ExperimentConfig, StrategySpec

__all__ = ["EvalSpec", "ExperimentConfig", "StrategySpec"]
