"""One process per output folder: refused while held, taken over when its holder died."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyret.cli.main import main
from polyret.lock import LOCK_FILE, output_lock

HOLD = """
import sys, time
from polyret.lock import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


def _holder(folder: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_folder_in_use_is_refused_naming_the_other_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "run"
    holder = _holder(folder)
    try:
        for argv in (
            ["train", "--model", "/no/model", "--dataset", "/no/data", "--output-dir", str(folder)],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert f"is in use by process {holder.pid}" in err and "wait for it" in err
    finally:
        holder.kill()
        holder.wait()


def test_an_experiment_folder_in_use_is_refused(tmp_path: Path) -> None:
    from polyret.errors import ConfigError
    from polyret.experiment.config import ExperimentConfig
    from polyret.experiment.runner import run_experiment

    holder = _holder(tmp_path / "exp")
    try:
        config = ExperimentConfig.from_dict(
            {"name": "x", "output_dir": str(tmp_path / "exp"), "strategies": ["mono"]}
        )
        with pytest.raises(ConfigError, match=f"in use by process {holder.pid}"):
            run_experiment(config)
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holders_lock_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "run"
    holder = _holder(folder)
    os.kill(holder.pid, signal.SIGKILL)  # an OOM kill: no clean release
    holder.wait()
    assert str(holder.pid) in (folder / LOCK_FILE).read_text()
    with caplog.at_level(logging.WARNING, logger="polyret.lock"), output_lock(folder):
        assert str(os.getpid()) in (folder / LOCK_FILE).read_text()
    assert f"took over the lock left by process {holder.pid}" in caplog.text
    assert "no longer running" in caplog.text
    # Released cleanly: the next one takes it without a word.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="polyret.lock"), output_lock(folder):
        time.sleep(0)
    assert caplog.text == ""
