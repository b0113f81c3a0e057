"""The experiment report in words: its set-up header, its explanations and its findings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from lareqa_fixture import write_parallel_lareqa
from polyret.errors import ConfigError
from polyret.experiment.config import ExperimentConfig
from polyret.experiment.report import write_report


@pytest.fixture(scope="module")
def results(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The tiny model's evaluation, standing in for the base model and two trained models."""
    from sentence_transformers import SentenceTransformer

    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa

    folder = write_parallel_lareqa(tmp_path_factory.mktemp("eval") / "qa", ("en", "de"), articles=3)
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    return evaluate_lareqa(model, load_lareqa(folder), LareqaEvalConfig(show_progress=False))


@pytest.fixture(scope="module")
def other_results(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Another tiny model's evaluation on the same data: scores that differ."""
    from sentence_transformers import SentenceTransformer

    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa
    from tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("other")
    folder = write_parallel_lareqa(root / "qa", ("en", "de"), articles=3)
    model = SentenceTransformer(str(build_tiny_model(root / "model", seed=7)), device="cpu")
    return evaluate_lareqa(model, load_lareqa(folder), LareqaEvalConfig(show_progress=False))


def _config(tmp_path: Path) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "name": "tiny",
            "output_dir": str(tmp_path / "exp"),
            "train": {
                "dataset": "mlqa-r",
                "languages": ["ar", "de", "en"],
                "batch_size": 32,
                "max_steps": 40,
                "learning_rate": 2e-5,
                "scale": 20.0,
            },
            "strategies": [
                "mono",
                "cross",
                {"name": "hybrid-0.25", "strategy": "hybrid", "alpha": 0.25},
            ],
            "seeds": [1, 2],
        }
    )


def test_report_header_states_the_training_setup(results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path)
    meta = {
        "polyret": "0.1.0",
        "hardware": "CPU x86_64, 2 cores",
        "command": "polyret experiment --config tiny.yaml",
        "base_model": config.base_model,
        "seeds": "1, 2",
        "train_steps": 40,
        "wall_time_this_invocation_s": 2555.4,
        "precision": "fp32",
    }
    runs = {"mono": [results, results], "hybrid-0.25": [results, results]}
    report = write_report(config, results, runs, tmp_path / "report", meta)
    text = report.read_text()
    header = text.split("## Main results")[0]
    for needle in (
        "[experiment.yaml](experiment.yaml)",
        "- Base model: bundled:multilingual-e5-small",
        "- Training data: mlqa-r, languages ar, de, en",
        "40 optimizer steps per run, batch size 32 pairs per device, learning rate 2e-05",
        "scale 20 (1 / temperature)",
        "precision auto (here fp32)",
        "mono: monolingual batches only (α = 1); cross: cross-lingual batches only (α = 0); "
        "hybrid-0.25: hybrid, α = 0.25",
        "- Seeds: 1, 2",
        "- Wall time of this invocation: 42 min 35 s",
        "- Polyret version: 0.1.0",
    ):
        assert needle in header, needle
    assert "wall_time_this_invocation_s" not in text and "_s:" not in text
    saved = yaml.safe_load((tmp_path / "report" / "experiment.yaml").read_text())
    assert ExperimentConfig.from_dict(saved) == config


def test_bias_columns_are_explained_in_one_line_each(results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = write_report(_config(tmp_path), results, {}, tmp_path / "report", {}).read_text()
    lines = text.splitlines()
    for name in ("Rank distance", "Same-language-first"):
        [line] = [x for x in lines if x.startswith(f"- {name}: ")]
        assert "lower means less language bias" in line


def test_heatmap_title_does_not_call_the_diagonal_cross_lingual(results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runs = {"mono": [results]}
    text = write_report(_config(tmp_path), results, runs, tmp_path / "report", {}).read_text()
    assert "## mAP per query × candidate language: mono " in text
    assert "Monolingual settings on the diagonal, cross-lingual ones off it." in text
    assert "Cross-lingual mAP" not in text


def test_findings_read_without_double_negatives(results, other_results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import re

    config = _config(tmp_path)
    runs = {"mono": [results], "cross": [results], "hybrid-0.25": [other_results]}
    text = write_report(config, results, runs, tmp_path / "report", {}).read_text()
    findings = text.split("## What the numbers say (generated)")[1]
    tests = [line for line in findings.splitlines() if line.startswith("- hybrid-0.25 ")]
    assert len(tests) == 9  # vs mono, cross and base, for each kind
    pattern = r"^- hybrid-0\.25 is \d\.\d{4} (mono|cross|multi) mAP (higher|lower) than "
    assert all(re.search(pattern, line) for line in tests), tests
    assert not re.search(r"(higher|lower|worse|better)( by)? -", findings)


def test_declared_families_are_holm_corrected_apart(results, other_results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A strategy's ``family:`` puts its tests in a Holm family of their own: each family's Holm
    p is what Holm over that family alone gives, the table names each row's family, and the
    summary records it; without families the report keeps its one-family wording."""
    from polyret.evaluation.significance import with_holm
    from polyret.experiment.stats import significance

    config = _config(tmp_path)
    one = significance(config, results, {"mono": [results], "hybrid-0.25": [other_results]})
    assert {config.family_of(h) for h, *_ in one} == {"main"}

    values = config.to_dict()
    values["strategies"].append(
        {"name": "hybrid-0.75", "strategy": "hybrid", "alpha": 0.75, "family": "alpha-sweep"}
    )
    config = ExperimentConfig.from_dict(values)
    assert config.family_of("hybrid-0.75+center") == "alpha-sweep"
    assert config.family_of("base") == config.family_of("hybrid-0.25") == "main"
    runs = {"mono": [results], "hybrid-0.25": [other_results], "hybrid-0.75": [results]}
    tests = significance(config, results, runs)
    for family in ("main", "alpha-sweep"):
        mine = [t for h, _, _, t in tests if config.family_of(h) == family]
        assert len(mine) == 6  # vs mono and the base model, three kinds
        alone = with_holm([dataclasses.replace(t, p_holm=None) for t in mine])
        assert [t.p_holm for t in mine] == [t.p_holm for t in alone]

    text = write_report(config, results, runs, tmp_path / "report", {}).read_text()
    assert "- Families: Holm's correction within each family" in text
    assert "main (6 tests), alpha-sweep (6 tests)" in text
    assert "hybrid-0.75: hybrid, α = 0.75 (Holm family alpha-sweep)" in text
    rows = [x for x in text.splitlines() if x.startswith("| hybrid-0.75 | mono | multi |")]
    assert rows and rows[0].endswith("| alpha-sweep |")
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert {t["holm_family"] for t in summary["significance"]} == {"main", "alpha-sweep"}

    single = write_report(
        _config(tmp_path), results, {"hybrid-0.25": [other_results]}, tmp_path / "r1", {}
    )
    assert "- Family: Holm's correction over all" in single.read_text()


def test_a_family_must_be_a_name(tmp_path: Path) -> None:
    values = _config(tmp_path).to_dict()
    values["strategies"][2]["family"] = ""
    with pytest.raises(ConfigError, match="family must be a name"):
        ExperimentConfig.from_dict(values)
