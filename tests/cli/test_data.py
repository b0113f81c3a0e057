"""``polyret data``, ``polyret completion``, the top-level help, ``--print-config``, -q/-v."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from polyret.cli.main import COMMANDS, main


def test_data_reports_where_and_what(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "--json", "--data-dir", str(shared_data)]) == 0
    report = json.loads(capsys.readouterr().out)
    xquad = report["datasets"]["xquad-r"]
    assert xquad["found"] and xquad["all_match"] and len(xquad["files"]) == 11
    # A copy with one file changed: found, and the changed file named.
    copy = tmp_path / "data"
    shutil.copytree(shared_data / "lareqa", copy / "lareqa")
    (copy / "lareqa" / "xquad-r" / "de.json").write_text("{}")
    assert main(["data", "--data-dir", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "differs from the original: de.json" in out and "SOME DIFFER" in out
    assert "ntrex-128: not found" in out


def test_completion_script_knows_every_command_and_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["completion"]) == 0
    script = capsys.readouterr().out
    assert "complete -o filenames -F _polyret polyret" in script
    for needle in ("experiment)", "--length-chunk-size", "--hard-negatives", "--articles"):
        assert needle in script, needle
    if shutil.which("bash"):
        check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_top_level_help_names_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "POLYRET_DATA" in text and "POLYRET_CACHE" in text and "--quiet" in text
    assert "data " in text and "completion " in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_prints_its_percent_signs_once(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse unescapes "%%" in flag help but not in a description without %(prog)s.
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert text.strip() and "%%" not in text


def test_train_print_config_is_loadable_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--print-config", "--strategy", "mixed", "--output-dir", str(out)]
    assert main(argv) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["sampler"]["strategy"] == "mixed" and printed["learning_rate"] == 5e-5
    assert not out.exists()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(printed))
    assert main(["train", "--print-config", "--config", str(path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == printed


@pytest.mark.parametrize(
    "command", [["train"], ["eval", "--dataset", "xquad-r"], ["debias", "--calibration", "ntrex"]]
)
@pytest.mark.parametrize("form", ["--out {}", "--out={}"])
def test_out_is_the_output_dir_of_every_command_that_writes_one(
    command: list[str], form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main([*command, "--print-config", *form.format(out).split()]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["output_dir"] == str(out)
    assert not out.exists()


def test_experiment_print_config_lists_every_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = Path(__file__).parents[2] / "experiments" / "protocol_a.yaml"
    argv = ["experiment", "--config", str(config), "--print-config"]
    assert main([*argv, "--output-dir", str(tmp_path / "x")]) == 0
    text = capsys.readouterr().out
    assert text.count("# hybrid-0.25-seed") == 3 and "name: protocol-a" in text
    assert not (tmp_path / "x").exists()


def test_experiment_flags_override_the_config_and_its_sections(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each experiment option has a flag: top-level options, ``eval:`` options and ``centering:``
    options (starting the section when the file has none) land where the YAML would put them,
    and the runs' training configs follow (precision)."""
    config = Path(__file__).parents[2] / "experiments" / "protocol_a.yaml"
    argv = ["experiment", "--config", str(config), "--print-config"]
    flags = ["--output-dir", str(tmp_path / "x"), "--dataset", "mlqa-r", "--languages", "de,en"]
    flags += ["--keep-weights", "none", "--precision", "fp32", "--method", "project"]
    assert main([*argv, *flags]) == 0
    printed = yaml.safe_load(capsys.readouterr().out.split("\n# ")[0])
    assert printed["output_dir"] == str(tmp_path / "x") and printed["keep_weights"] == "none"
    assert printed["eval"]["dataset"] == "mlqa-r" and printed["eval"]["languages"] == ["de", "en"]
    assert printed["eval"]["seen_languages"] == ["ar", "de", "en", "es", "hi", "vi", "zh"]  # kept
    assert printed["centering"]["method"] == "project"
    assert printed["centering"]["calibration"] == "ntrex"  # the file's value stays
    assert printed["precision"] == "fp32"

    bare = tmp_path / "bare.yaml"
    bare.write_text("name: b\noutput_dir: out\nstrategies: [mono]\n")
    assert main(["experiment", "--config", str(bare), "--print-config", "--sentences", "50"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out.split("\n# ")[0])
    assert printed["centering"] == {**printed["centering"], "calibration": "ntrex", "sentences": 50}

    bad = ["experiment", "--config", str(bare), "--print-config", "--keep-weights", "some"]
    assert main(bad) == 2  # a bad value is the config's error, naming both sources
    assert f"{bare} and command line" in capsys.readouterr().err


def test_quiet_and_verbose_set_the_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import os

    from transformers.utils import logging as hf_logging

    from polyret.cli.main import set_verbosity

    for name in (
        "TQDM_DISABLE",
        "HF_HUB_DISABLE_PROGRESS_BARS",
        "HF_DATASETS_DISABLE_PROGRESS_BARS",
    ):
        monkeypatch.setenv(name, "0")  # restored after the test
    monkeypatch.setattr(hf_logging, "disable_progress_bar", lambda: None)
    set_verbosity(-1)
    assert logging.getLogger("polyret").level == logging.WARNING
    assert os.environ["TQDM_DISABLE"] == "1"  # -q: no bars either
    set_verbosity(1)
    assert logging.getLogger("polyret").level == logging.DEBUG
    set_verbosity(0)
    assert logging.getLogger("polyret").level == logging.INFO
