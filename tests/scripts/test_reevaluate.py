"""``scripts/reevaluate.py``: a recorded ``polyret eval`` reruns to the same numbers, and a changed
number is found and named."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from evaluation.lareqa_fixtures import write_random_dataset
from polyret.cli.main import main as polyret

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reevaluate.py"


@pytest.fixture(scope="module")
def reevaluate():
    spec = importlib.util.spec_from_file_location("reevaluate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reevaluate"] = module
    spec.loader.exec_module(module)
    return module


def test_rerun_argv_points_the_output_elsewhere(reevaluate, tmp_path: Path) -> None:
    out = tmp_path / "new"
    command = "polyret eval --model m --dataset ntrex --out /old/place --debias ntrex"
    assert reevaluate.rerun_argv(command, out) == [
        "--model", "m", "--dataset", "ntrex", "--out", str(out), "--debias", "ntrex",
    ]  # fmt: skip
    assert reevaluate.rerun_argv("polyret eval --output-dir=/x", out) == [f"--output-dir={out}"]
    assert reevaluate.rerun_argv("polyret eval --model m", out)[-2:] == ["--output-dir", str(out)]
    with pytest.raises(SystemExit, match="not a polyret eval command"):
        reevaluate.rerun_argv("polyret train --model m", out)


def test_a_recorded_eval_reruns_to_the_same_numbers(
    reevaluate, tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_random_dataset(tmp_path / "data")
    first = tmp_path / "first"
    argv = ["eval", "--model", str(tiny_model_dir), "--dataset", str(data), "--out", str(first),
            "--seen-languages", "aa,bb", "--no-progress", "--batch-size", "16"]  # fmt: skip
    assert polyret(argv) == 0
    assert reevaluate.main([str(first), "--out", str(tmp_path / "again")]) == 0
    printed = capsys.readouterr().out
    assert "results.json:" in printed and "largest difference 0.00e+00" in printed

    # A result that no longer reproduces is named, setting and metric.
    path = first / "results.json"
    record = json.loads(path.read_text())
    record["settings"]["aa->bb"]["metrics"]["map"] += 0.01
    path.write_text(json.dumps(record))
    assert reevaluate.main([str(first), "--out", str(tmp_path / "again")]) == 1
    printed = capsys.readouterr().out
    assert "settings.aa->bb.metrics.map" in printed and "environment:" not in printed

    # Another environment is named beside the numbers (near ties may order differently).
    record["environment"]["torch_threads"] += 1
    path.write_text(json.dumps(record))
    reevaluate.main([str(first), "--out", str(tmp_path / "again")])
    assert "environment: recorded" in capsys.readouterr().out
