from __future__ import annotations

from pathlib import Path

import pytest

from polyret.cli.main import main


@pytest.mark.integration
def test_demo_prints_a_cross_lingual_table(
    tiny_model_dir: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "demo",
        "--model",
        str(tiny_model_dir),
        "--data-dir",
        str(shared_data),
        "--languages",
        "en",
        "de",
        "th",
        "--paragraphs",
        "2",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "P@1 (rows: query language, columns: passage language)" in out
    lines = out.splitlines()
    header = lines.index("P@1 (rows: query language, columns: passage language)")
    assert lines[header + 1].split() == ["en", "de", "th"]
    rows = [line.split() for line in lines[header + 2 : header + 5]]
    assert [r[0] for r in rows] == ["en", "de", "th"]
    assert len(rows) == 3 and all(len(r) == 4 for r in rows)
    assert all(0.0 <= float(v) <= 1.0 for r in rows for v in r[1:])


def test_demo_rejects_zero_paragraphs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--paragraphs", "0"]) == 2
    assert "--paragraphs 0" in capsys.readouterr().err


def test_demo_reports_a_bad_model_before_missing_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--model", str(tmp_path / "no-model"), "--data-dir", str(tmp_path / "none")]
    assert main(argv) == 2
    assert "no model directory" in capsys.readouterr().err


@pytest.mark.integration
def test_demo_runs_from_a_fresh_clone_without_polyret_data(
    tiny_model_dir: Path,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A clone beside the staged shared/data: the demo finds it without $POLYRET_DATA."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)
    (tmp_path / "clone").mkdir()
    monkeypatch.chdir(tmp_path / "clone")
    monkeypatch.delenv("POLYRET_DATA", raising=False)
    monkeypatch.setenv("POLYRET_CACHE", str(tmp_path / "cache"))
    argv = ["demo", "--model", str(tiny_model_dir), "--languages", "en", "de", "--paragraphs", "1"]
    assert main([*argv, "--device", "cpu"]) == 0
    assert "P@1 (rows: query language" in capsys.readouterr().out
