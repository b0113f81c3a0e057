"""polyret recipe: the recipe grid and the design screen on a dev split, on a tiny model and data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lareqa_fixture import write_parallel_lareqa
from polyret.cli.main import main


def _experiment(tmp_path: Path, model: Path) -> Path:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=10)
    path = tmp_path / "experiment.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "output_dir": str(tmp_path / "exp"),
                "base_model": str(model),
                "precision": "fp32",
                "train": {
                    "dataset": str(data),
                    "exclude_titles": [],
                    "dev_fraction": 0.0,
                    "batch_size": 4,
                    "max_steps": 4,
                    "learning_rate": 1e-3,
                    "device": "cpu",
                    "eval_batch_size": 32,
                },
                "strategies": ["cross"],
                "eval": {"dataset": str(data)},
            }
        )
    )
    return path


def _run(*args: str) -> int:
    return main(["recipe", *args])


def test_design_screen_trains_every_design_and_chooses_two(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    designs = tmp_path / "designs.yaml"
    designs.write_text(
        "strategies:\n"
        "  - cross\n"
        "  - {name: hybrid-0.5, strategy: hybrid, alpha: 0.5}\n"
        "  - mixed\n"
        "  - {name: mixed+neg, strategy: mixed, train: {hard_negatives: 1}}\n"
        "  - {name: big, strategy: hybrid, train: {batch_size: 8, max_steps: 2}}\n"
        "  - {name: huge, strategy: cross, train: {batch_size: 64, max_steps: 1}}\n"
    )
    out, runs = tmp_path / "screen", tmp_path / "runs"
    args = ["--config", str(_experiment(tmp_path, tiny_model_dir)), "--designs", str(designs)]
    args += ["--steps", "4", "--dev-fraction", "0.3", "--out", str(out), "--runs", str(runs)]
    assert _run(*args) == 0
    screen = json.loads((out / "screen.json").read_text())
    rows = {r["name"]: r for r in screen["designs_screened"]}
    assert list(rows) == ["cross", "hybrid-0.5", "mixed", "mixed+neg", "big"]
    # A design the data cannot hold is recorded with its reason; the others are still screened.
    [huge] = screen["designs_infeasible"]
    assert huge["name"] == "huge" and "too few distinct groups for batch_size 64" in huge["error"]
    assert rows["big"]["steps"] == 2 and rows["big"]["batch_size"] == 8  # same pairs seen
    assert rows["mixed+neg"]["train"] == {"hard_negatives": 1}
    for row in rows.values():
        assert 0.0 <= row["dev_multi_map"] <= 1.0
    # The rule, restated: designs (not the reference or a baseline) at least as good as the
    # reference on dev mono and cross, best two by dev multilingual mAP.
    reference = rows["hybrid-0.5"]
    eligible = [
        r for r in rows.values()
        if r["name"] not in {"cross", "hybrid-0.5"}
        and r["dev_mono_map"] >= reference["dev_mono_map"]
        and r["dev_cross_map"] >= reference["dev_cross_map"]
    ]  # fmt: skip
    expected = [r["name"] for r in sorted(eligible, key=lambda r: -r["dev_multi_map"])[:2]]
    assert screen["chosen"] == expected
    sampler = json.loads((runs / "mixed+neg" / "polyret_sampler.json").read_text())
    assert sampler["data"]["hard_negatives"] == 1 and sampler["data"]["dev_ids"] > 0
    # A second call reuses the finished runs (same config) instead of training again.
    stamps = {name: (runs / name / "final").stat().st_mtime_ns for name in rows}
    assert _run(*args) == 0
    assert stamps == {name: (runs / name / "final").stat().st_mtime_ns for name in rows}
    assert json.loads((out / "screen.json").read_text())["chosen"] == screen["chosen"]


def test_recipe_grid_chooses_the_best_mean_dev_map(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, runs = tmp_path / "recipe", tmp_path / "runs"
    args = ["--config", str(_experiment(tmp_path, tiny_model_dir)), "--steps", "2"]
    args += ["--dev-fraction", "0.3", "--learning-rates", "1e-3", "1e-4", "--scales", "20"]
    assert _run(*args, "--out", str(out), "--runs", str(runs)) == 0
    study = json.loads((out / "study.json").read_text())
    rows = study["settings"]
    assert [r["name"] for r in rows] == ["lr0.001-scale20", "lr0.0001-scale20"]
    for r in rows:
        assert r["mean_map"] == pytest.approx(
            (r["dev_mono_map"] + r["dev_cross_map"] + r["dev_multi_map"]) / 3
        )
    assert study["chosen"] == max(rows, key=lambda r: r["mean_map"])
    assert "never" in study["what"] and study["base"]["mean_map"] > 0
    assert "chosen:" in capsys.readouterr().out
    # a dev fraction that holds out nothing, or everything, is refused before training
    assert _run(*args, "--dev-fraction", "1.0", "--out", str(out)) == 2
    assert "--dev-fraction must lie in (0, 1)" in capsys.readouterr().err
