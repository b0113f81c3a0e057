from __future__ import annotations

from pathlib import Path

import pytest

from polyret.configfile import read_yaml_mapping
from polyret.errors import ConfigError
from polyret.experiment.config import ExperimentConfig

SHIPPED = sorted((Path(__file__).parents[2] / "experiments").glob("*.yaml"))
# A design list (`strategies:` only) is screened with an experiment's train section.
DESIGN_LISTS = [p for p in SHIPPED if "name" not in read_yaml_mapping(p)]
EXPERIMENTS = [p for p in SHIPPED if p not in DESIGN_LISTS]


@pytest.mark.parametrize("path", DESIGN_LISTS, ids=lambda p: p.stem)
def test_shipped_design_lists_load_with_protocol_a(path: Path) -> None:
    protocol_a = ExperimentConfig.from_yaml(path.parent / "protocol_a.yaml")
    listed = read_yaml_mapping(path)
    assert set(listed) == {"strategies"}
    config = ExperimentConfig.from_dict(
        {"name": "x", "output_dir": "-", "train": protocol_a.train, **listed}
    )
    assert len(config.strategies) >= 2
    for spec in config.strategies:
        config.train_config(spec, 1)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_experiment_configs_load(path: Path) -> None:
    config = ExperimentConfig.from_yaml(path)
    assert config.strategies and config.seeds
    # Protocols: >= 3 seeds, mono, cross and hybrid-0.5 (other alphas and designs optional),
    # centering.
    if path.stem.startswith("protocol"):
        assert len(config.seeds) >= 3
        kinds = {s.strategy for s in config.strategies}
        assert kinds >= {"mono", "cross", "hybrid"}
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


def test_a_strategy_sets_mixed_share_and_its_own_training_options() -> None:
    config = ExperimentConfig.from_dict(
        {
            "name": "designs",
            "output_dir": "runs/designs",
            "train": {"dataset": "mlqa-r", "batch_size": 32, "max_steps": 300},
            "strategies": [
                "cross",
                {"name": "mix", "strategy": "hybrid", "alpha": 0.5, "mixed_share": 0.5},
                {"name": "neg", "strategy": "cross", "train": {"hard_negatives": 1}},
                {
                    "name": "big",
                    "strategy": "hybrid",
                    "train": {"batch_size": 128, "max_steps": 75, "loss": "cached_mnrl"},
                },
            ],
            "seeds": [1],
        }
    )
    runs = {s.name: config.train_config(s, 1) for s in config.strategies}
    assert runs["mix"].sampler.mixed_share == 0.5 and runs["mix"].sampler.cross_share == 0.0
    assert runs["neg"].hard_negatives == 1 and runs["cross"].hard_negatives == 0
    assert (runs["big"].batch_size, runs["big"].max_steps) == (128, 75)
    assert runs["cross"].batch_size == 32
    for train, message in (
        ({"seed": 3}, "'seed' is set per run"),
        ({"hard_negatives": -1}, "hard_negatives"),
        ({"no_such_option": 1}, "no_such_option"),
    ):
        with pytest.raises(ConfigError, match=message):
            ExperimentConfig.from_dict(
                {
                    "name": "bad",
                    "output_dir": "runs/bad",
                    "strategies": [{"name": "x", "strategy": "cross", "train": train}],
                }
            )


def test_a_model_trained_on_ntrex_is_not_tested_out_of_domain_on_it() -> None:
    """NTREX-128 sentence pairs in training (its calibration part) rule out NTREX-128 as the
    out-of-domain test of that experiment: the config is refused, naming the strategy."""
    values = {
        "name": "with-ntrex",
        "output_dir": "runs/x",
        "train": {"dataset": "mlqa-r", "batch_size": 32, "max_steps": 10},
        "strategies": ["cross", {"name": "news", "strategy": "cross",
                                 "train": {"ntrex_languages": ["de", "en"]}}],
        "seeds": [1],
    }  # fmt: skip
    assert ExperimentConfig.from_dict(values).out_of_domain == []
    with pytest.raises(ConfigError, match="strategy 'news' trains on NTREX-128"):
        ExperimentConfig.from_dict({**values, "out_of_domain": ["ntrex"]})


def test_an_experiment_refuses_best_metric() -> None:
    # Strategies are compared at one budget; a dev-chosen step per run would compare others.
    best = {"dev_fraction": 0.1, "eval_steps": 50, "save_steps": 50, "best_metric": "mean_map"}
    with pytest.raises(ConfigError, match="best_metric is not an experiment option"):
        _experiment(best)
    with pytest.raises(ConfigError, match="best_metric is not an experiment option"):
        ExperimentConfig.from_dict(
            {
                "name": "x",
                "output_dir": "out",
                "strategies": [{"name": "b", "strategy": "cross", "train": best}],
            }
        )
