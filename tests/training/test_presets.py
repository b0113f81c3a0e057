"""Named training recipes: each preset is the configuration of the result it names."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO
from polyret.cli.main import main
from polyret.errors import ConfigError
from polyret.experiment.config import ExperimentConfig
from polyret.training.config import TrainConfig, resolve_config
from polyret.training.presets import PRESETS, preset_options

# Set per run by an experiment (or by the user's own invocation), not part of a recipe.
PER_RUN = {"model", "output_dir", "seed", "data_dir", "precision", "save_steps", "logging_steps"}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_is_the_strategy_it_names(name: str) -> None:
    preset = PRESETS[name]
    experiment = ExperimentConfig.from_yaml(REPO / preset.experiment)
    spec = next(s for s in experiment.strategies if s.name == preset.strategy)
    measured = experiment.train_config(spec, experiment.seeds[0]).option_values()
    options = resolve_config(None, {}, name).option_values()
    differ = {
        k: (options[k], measured[k])
        for k in measured
        if k not in PER_RUN and options[k] != measured[k]
    }
    assert not differ, f"the preset is not the measured recipe: {differ}"
    assert f"{preset.experiment}, strategy {preset.strategy}" in preset.evidence


def test_config_file_and_flags_override_a_preset(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text("max_steps: 50\nhard_negatives: 2\n", encoding="utf-8")
    argv = ["train", "--preset", "hybrid-neg", "--config", str(file), "--hard-negatives", "3"]
    assert main([*argv, "--output-dir", str(tmp_path / "r"), "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["max_steps"], printed["hard_negatives"], printed["scale"]) == (50, 3, 100.0)
    assert TrainConfig.from_dict(printed).sampler.alpha == 0.5  # the printed config reloads


def test_unknown_preset_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="unknown preset 'best'; known: hybrid-neg"):
        preset_options("best")
    with pytest.raises(SystemExit):
        main(["train", "--preset", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err
