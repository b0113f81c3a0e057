"""Every committed experiment report is what the current code builds from its evaluations.

A fresh clone's ``polyret experiment --config results/X/experiment.yaml --report-only`` must
give the committed ``report.md`` byte for byte: reports are never edited by hand, and a change
of the report code comes with the rebuilt reports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO
from polyret.cli.main import main

REPORTS = sorted(
    p.parent
    for p in (REPO / "results").glob("*/experiment.yaml")
    if (p.parent / "report.md").is_file() and (p.parent / "evals").is_dir()
)


def test_there_are_committed_reports() -> None:
    assert {p.name for p in REPORTS} >= {"protocol-a", "protocol-a-cpu", "quickstart-cpu"}


@pytest.mark.integration
@pytest.mark.parametrize("folder", REPORTS, ids=lambda p: p.name)
def test_a_committed_report_rebuilds_byte_for_byte(
    folder: Path,
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYRET_DATA", str(shared_data))
    copy = tmp_path / "report"
    shutil.copytree(folder, copy)
    argv = ["experiment", "--config", str(copy / "experiment.yaml"), "--report-only"]
    argv += ["--output-dir", str(tmp_path / "out"), "--report-dir", str(copy)]
    assert main(argv) == 0, capsys.readouterr().err
    rebuilt = (copy / "report.md").read_text(encoding="utf-8")
    committed = (folder / "report.md").read_text(encoding="utf-8")
    assert rebuilt == committed, f"{folder.name}/report.md is not what the current code builds"
