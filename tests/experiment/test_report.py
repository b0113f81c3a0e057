"""The experiment report in words: its set-up header, its explanations and its findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from lareqa_fixture import write_parallel_lareqa
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
            },
            "strategies": [
                "mono",
                "cross",
                {"name": "hybrid-0.25", "strategy": "hybrid", "alpha": 0.25},
            ],
            "seeds": [1, 2],
        }
    )


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
