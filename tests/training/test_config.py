"""TrainConfig: the sampler's options nested in ``sampler``, flat flags, old flat YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from polyret.cli.train import build_parser, split_args
from polyret.errors import ConfigError
from polyret.samplers import BatchStrategy, PairWeighting, SamplerConfig
from polyret.training.config import Loss, TrainConfig, resolve_config

# polyret_train_config.yaml as polyret wrote it before TrainConfig.sampler (a quickstart run).
FLAT_SAVED = """\
# polyret 0.1.0: resolved training configuration (rerun: polyret train --config this-file)
model: bundled:multilingual-e5-small
output_dir: runs/quickstart-cpu/runs/hybrid-0.5-seed1
dataset: mlqa-r
data_dir: null
languages: [ar, de, en, es, hi, vi, zh]
exclude_titles: [Prime number, Harvard University]
dev_fraction: 0.0
context: false
ntrex_languages: null
strategy: hybrid
alpha: 0.5
pair_weighting: uniform
batch_size: 32
max_steps: 40
epochs: 1.0
learning_rate: 2.0e-05
lr_scheduler: linear
warmup_ratio: 0.1
weight_decay: 0.01
max_grad_norm: 1.0
max_query_length: 48
max_passage_length: 96
freeze_word_embeddings: true
loss: mnrl
scale: 20.0
mini_batch_size: 32
gather_across_devices: true
seed: 1
precision: auto
eval_steps: 0
eval_batch_size: 64
save_steps: 20
save_total_limit: 2
logging_steps: 5
dataloader_workers: 0
device: null
"""


def test_a_config_saved_with_flat_sampler_options_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(FLAT_SAVED)
    config = resolve_config(str(path), {})
    assert config.sampler == SamplerConfig("hybrid", 0.5, "uniform")
    assert config.max_steps == 40 and config.seed == 1
    # Saved again, the options sit under `sampler:` and load back to the same config ...
    saved = config.to_dict()
    assert saved["sampler"] == {
        "strategy": "hybrid",
        "alpha": 0.5,
        "pair_weighting": "uniform",
        "mixed_share": 0.0,
        "align_share": 0.0,
    }
    assert not {"strategy", "alpha", "pair_weighting"} & set(saved)
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(saved))) == config
    # ... and compare by flat name equal to the old file's values (options added since then
    # take their defaults, which keep the old behaviour or leave it to the device).
    added = {
        "length_chunk_size": None,
        "mixed_share": 0.0,
        "align_share": 0.0,
        "hard_negatives": 0,
        "negative_source": "paragraph",
        "loss_precision": "fp32",
        "best_metric": None,
    }
    assert config.option_values() == {**yaml.safe_load(FLAT_SAVED), **added}


def test_sampler_options_load_nested_or_flat() -> None:
    nested = TrainConfig.from_dict({"sampler": {"strategy": "mono", "pair_weighting": "size"}})
    flat = TrainConfig.from_dict({"strategy": "mono", "pair_weighting": "size"})
    mixed = TrainConfig.from_dict({"strategy": "mono", "sampler": {"pair_weighting": "size"}})
    assert nested == flat == mixed
    assert nested.sampler.strategy is BatchStrategy.MONO
    assert nested.sampler.pair_weighting is PairWeighting.SIZE
    # The same value twice is no conflict.
    assert TrainConfig.from_dict({"alpha": 0.3, "sampler": {"alpha": 0.3}}).sampler.alpha == 0.3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "alpha: 0.3\nsampler:\n  alpha: 0.7\n",
            "c.yaml: option 'alpha' is given twice, as alpha: 0.3 and as sampler.alpha: 0.7",
        ),
        (
            "sampler:\n  alpah: 0.3\n",
            "c.yaml: sampler: unknown option 'alpah'; did you mean 'alpha'",
        ),
        ("sampler:\n  seed: 3\n", "c.yaml: sampler: unknown option 'seed'"),
        ("sampler: hybrid\n", "c.yaml: sampler must be a mapping"),
        ("sampler:\n  alpha: 1.5\n", "c.yaml: alpha=1.5: must lie in [0, 1]"),
        ("strategy: zigzag\n", "c.yaml: strategy='zigzag': must be one of mono, cross, hybrid"),
        ("sampler:\n  pair_weighting: by_size\n", "c.yaml: pair_weighting='by_size'"),
        ("loss: infonce\n", "c.yaml: loss='infonce': must be one of mnrl, cached_mnrl"),
        ("alpha: half\n", "c.yaml: option 'alpha' = 'half'"),
    ],
)
def test_bad_sampler_options_name_the_key_and_the_file(
    text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        resolve_config(str(path), {})
    assert message in str(caught.value).replace(str(tmp_path) + "/", "")


def test_flat_flags_set_the_sampler_options(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sampler:\n  strategy: cross\n  alpha: 0.2\n")
    argv = ["--config", str(path), "--strategy", "hybrid", "--pair-weighting", "size"]
    run, options = split_args(argv)
    config = resolve_config(run["config"], options)
    assert config.sampler == SamplerConfig("hybrid", 0.2, "size")  # flags win over the file
    with pytest.raises(ConfigError, match=r"c\.yaml and command line: alpha=2\.0"):
        resolve_config(str(path), {"alpha": "2"})


def test_the_run_sets_the_sampler_seed_and_steps() -> None:
    config = TrainConfig(sampler=SamplerConfig("mono"), seed=7, max_steps=12)
    assert config.run_sampler() == SamplerConfig("mono", seed=7, max_steps=12)
    assert TrainConfig(max_steps=-1).run_sampler().max_steps is None
    with pytest.raises(ConfigError, match=r"sampler\.seed=3: is set by the run"):
        TrainConfig(sampler=SamplerConfig(seed=3))


def test_enum_options_become_members_and_save_as_values() -> None:
    config = TrainConfig(loss="cached_mnrl", sampler=SamplerConfig(strategy="cross"))
    assert config.loss is Loss.CACHED_MNRL and config.sampler.strategy is BatchStrategy.CROSS
    text = yaml.safe_dump(config.to_dict())  # plain values only: safe_dump refuses enum members
    assert "loss: cached_mnrl" in text and "strategy: cross" in text


def test_enum_flags_list_their_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "--strategy {mono,cross,hybrid,mixed}" in out and "--loss {mnrl,cached_mnrl}" in out
    assert "--pair-weighting {uniform,size}" in out and "--sampler" not in out


def test_defaults_are_the_recipe_the_dev_split_chose() -> None:
    """`polyret train`'s defaults and the README's main job use the recipe of
    results/recipe/protocol-a/study.json, so the three cannot drift apart."""
    import json

    from conftest import REPO
    from polyret.experiment.config import ExperimentConfig

    chosen = json.loads((REPO / "results/recipe/protocol-a/study.json").read_text())["chosen"]
    defaults = TrainConfig()
    assert (defaults.learning_rate, defaults.scale) == (chosen["learning_rate"], chosen["scale"])
    assert defaults.precision == "auto"
    main_job = ExperimentConfig.from_yaml(REPO / "experiments/quickstart.yaml")
    run = main_job.train_config(main_job.strategies[0], main_job.seeds[0])
    assert (run.learning_rate, run.scale, run.precision) == (
        chosen["learning_rate"],
        chosen["scale"],
        "auto",
    )


def test_train_help_names_the_recipe_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 5e-05)" in text and "(default: 100.0)" in text
    assert text.count("results/recipe/protocol-a/study.json") >= 2
    # list flags name what they take
    assert "--exclude-titles TITLE [TITLE ...]" in text and "--languages LANG [LANG ...]" in text
