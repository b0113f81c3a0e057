"""Bad input a new user meets: one ``error:`` line, exit 2, nothing written, no work done first.

Every case passes a model and a dataset that do not exist: an error about them would mean the
command did work (resolved the model, read data) before it checked what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from polyret.cli.main import main

MISSING_MODEL = "/nonexistent/polyret-model"
MISSING_DATA = "/nonexistent/polyret-data"
# A folder nobody can write into, root included (access() would say yes to root).
UNWRITABLE = Path("/proc/polyret-test-output")


def _snapshot(path: Path) -> object:
    if path.is_file():
        return ("file", path.read_bytes())
    if path.is_dir():
        return ("dir", sorted(p.name for p in path.iterdir()))
    return None


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # a flag argparse refuses: its error, on one line too
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "error:" in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def afile(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("keep me\n")
    return path


@pytest.fixture
def unwritable() -> Path:
    if os.access("/proc", os.W_OK) and not UNWRITABLE.parent.is_dir():
        pytest.skip("no unwritable folder on this machine")
    return UNWRITABLE


def test_eval_output_dir_problems_are_refused_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, afile: Path, unwritable: Path
) -> None:
    base = ["eval", "--model", MISSING_MODEL, "--dataset", MISSING_DATA]
    one_line_error(capsys, [*base, "--output-dir", str(afile)], "is a file")
    assert afile.read_text() == "keep me\n"
    one_line_error(capsys, [*base, "--out", str(unwritable)], "cannot write into")
    full = tmp_path / "results"
    full.mkdir()
    (full / "results.json").write_text("{}")
    one_line_error(capsys, [*base, "--output-dir", str(full)], "not empty", "--overwrite")
    assert _snapshot(full) == ("dir", ["results.json"])
    # With --overwrite the output is fine, and the next problem is the model (no work before).
    one_line_error(capsys, [*base, "--output-dir", str(full), "--overwrite"], MISSING_MODEL)


def test_train_output_dir_problems_are_refused_before_the_data(
    capsys: pytest.CaptureFixture[str], afile: Path, unwritable: Path
) -> None:
    base = ["train", "--model", MISSING_MODEL, "--dataset", MISSING_DATA]
    one_line_error(capsys, [*base, "--output-dir", str(afile)], "is a file")
    one_line_error(capsys, [*base, "--output-dir", str(unwritable / "run")], "cannot write into")
    assert afile.read_text() == "keep me\n"


def test_debias_output_dir_problems_are_refused_before_encoding(
    capsys: pytest.CaptureFixture[str], afile: Path, unwritable: Path
) -> None:
    base = ["debias", "--model", MISSING_MODEL, "--calibration", MISSING_DATA]
    one_line_error(capsys, [*base, "--output-dir", str(unwritable)], "cannot write into")
    one_line_error(capsys, [*base, "--out", str(afile), "--overwrite"], "is a file")
    assert afile.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["eval", "--dataset", MISSING_DATA, "--languages", "EN"], ("'EN'", "did you mean 'en'")),
        (["eval", "--dataset", MISSING_DATA, "--seen-languages", "de,Fr"], ("did you mean 'fr'",)),
        (["train", "--dataset", MISSING_DATA, "--languages", "EN"], ("did you mean 'en'",)),
        (["debias", "--calibration", MISSING_DATA, "--languages", "english"], ("'english'",)),
        (["train", "--dataset", MISSING_DATA, "--precision", "bf17"], ("bf17", "'auto', 'fp32'")),
    ],
)
def test_bad_values_are_refused_before_the_model_loads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], words: tuple[str, ...]
) -> None:
    out = ["--output-dir", str(tmp_path / "out")]
    one_line_error(capsys, [*argv, "--model", MISSING_MODEL, *out], *words)
    assert not (tmp_path / "out").exists()


def _experiment(tmp_path: Path, **changes: object) -> Path:
    values: dict[str, object] = {
        "name": "bad",
        "output_dir": str(tmp_path / "exp"),
        "base_model": MISSING_MODEL,
        "train": {"dataset": MISSING_DATA, "max_steps": 2},
        "strategies": ["mono", {"name": "h", "strategy": "hybrid", "alpha": 0.5}],
        "seeds": [1],
        "eval": {"dataset": MISSING_DATA},
    }
    values.update(changes)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"seeds": 1}, ("seeds must be a list", "[1, 2, 3]")),
        ({"strategies": "hybrid"}, ("strategies must be a list",)),
        ({"eval": []}, ("eval must be a mapping",)),
        ({"eval": {}}, ("eval is empty",)),
        ({"seeds": [1, "two"]}, ("seeds must be whole numbers",)),
        (
            {"strategies": ["mono", {"name": "h", "strategy": "hybrid", "alpha": 1.5}]},
            ("strategies[1] ('h')", "alpha=1.5"),
        ),
        ({"train": {"dataset": MISSING_DATA, "learning_rate": -1}}, ("bad.yaml", "train:")),
    ],
)
def test_bad_experiment_yaml_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: dict, words: tuple[str, ...]
) -> None:
    path = _experiment(tmp_path, **changes)
    err = one_line_error(capsys, ["experiment", "--config", str(path)], *words)
    assert "Traceback" not in err
    assert not (tmp_path / "exp").exists()


def test_a_strategy_error_is_not_blamed_on_the_train_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = {"strategies": [{"name": "h", "strategy": "hybrid", "alpha": 1.5}]}
    err = one_line_error(capsys, ["experiment", "--config", str(_experiment(tmp_path, **bad))])
    assert "strategies[0]" in err


@pytest.mark.parametrize("command", ["train", "debias"])
def test_push_to_hub_is_refused_before_any_work_when_it_cannot_work(
    command: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from huggingface_hub import constants

    base = [command, "--model", MISSING_MODEL, "--output-dir", str(tmp_path / "run")]
    base += ["--dataset", MISSING_DATA] if command == "train" else ["--calibration", "ntrex"]
    one_line_error(capsys, [*base, "--push-to-hub", "no-owner"], "owner/name")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    one_line_error(capsys, [*base, "--push-to-hub", "me/model"], "HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored token either
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    one_line_error(capsys, [*base, "--push-to-hub", "me/model"], "no hub token")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_test")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    one_line_error(capsys, [*base, "--push-to-hub", "me/model"], "cannot be reached")
    assert not (tmp_path / "run").exists()
