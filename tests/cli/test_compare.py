"""``polyret compare``: two experiments seed by seed (the bf16 check is one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO
from polyret.cli.main import main


@pytest.mark.integration
def test_compare_rebuilds_the_committed_bf16_check(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "check.md"
    argv = [
        "compare",
        str(REPO / "results/protocol-a-cpu"),
        str(REPO / "results/protocol-a-cpu-bf16"),
    ]
    argv += ["--labels", "fp32", "bf16", "--output", str(out), "--data-dir", str(shared_data)]
    assert main(argv) == 0
    committed = REPO / "results/protocol-a-cpu-bf16/precision_check.md"
    assert out.read_text() == committed.read_text()
    assert "| hybrid-0.5 | multi |" in capsys.readouterr().out


def test_compare_needs_report_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no evals/ folder" in err
