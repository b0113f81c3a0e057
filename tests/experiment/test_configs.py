from __future__ import annotations

from pathlib import Path

import pytest

from polyret.errors import ConfigError
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


def _experiment(train: dict) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {"name": "x", "output_dir": "out", "train": train, "strategies": ["mono", "hybrid"]}
    )


def test_the_train_section_may_nest_the_sampler_options() -> None:
    from polyret.samplers import PairWeighting

    for train in ({"sampler": {"pair_weighting": "size"}}, {"pair_weighting": "size"}):
        config = _experiment(train)
        runs = [config.train_config(spec, 1) for spec in config.strategies]
        assert [run.sampler.strategy for run in runs] == ["mono", "hybrid"]
        assert all(run.sampler.pair_weighting is PairWeighting.SIZE for run in runs)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"sampler": {"alpha": 0.3}}, "train option 'alpha' is set per run"),
        ({"strategy": "mono"}, "train option 'strategy' is set per run"),
        ({"sampler": {"pair_weightin": "size"}}, "did you mean 'pair_weighting'"),
        ({"sampler": {"pair_weighting": "big"}}, "experiment 'x' train: pair_weighting='big'"),
    ],
)
def test_bad_sampler_options_in_the_train_section(train: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _experiment(train)
