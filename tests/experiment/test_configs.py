from __future__ import annotations

from pathlib import Path

import pytest

from polyret.experiment.config import ExperimentConfig

EXPERIMENTS = sorted((Path(__file__).parents[2] / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_experiment_configs_load(path: Path) -> None:
    config = ExperimentConfig.from_yaml(path)
    assert config.strategies and config.seeds
    # Protocols: >= 3 seeds, mono, cross and hybrid-0.5 (other alphas optional), centering.
    if path.stem.startswith("protocol"):
        assert len(config.seeds) >= 3
        kinds = {s.strategy for s in config.strategies}
        assert kinds == {"mono", "cross", "hybrid"}
        assert 0.5 in {s.alpha for s in config.strategies if s.strategy == "hybrid"}
        assert config.centering is not None


def test_there_are_shipped_configs() -> None:
    assert {p.stem for p in EXPERIMENTS} >= {
        "protocol_a",
        "protocol_a_cpu",
        "protocol_b",
        "quickstart",
    }
