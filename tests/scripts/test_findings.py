"""``scripts/findings.py``: the committed findings page is what the script writes from the
committed reports and evaluations (it is never edited by hand)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "findings.py"


@pytest.mark.integration
def test_the_committed_findings_page_rebuilds_unchanged(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYRET_DATA", str(shared_data))
    spec = importlib.util.spec_from_file_location("findings", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "findings", module)
    spec.loader.exec_module(module)
    out = tmp_path / "README.md"
    module.main(["--out", str(out)])
    committed = (REPO / "results" / "README.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, (
        "results/README.md differs from what scripts/findings.py writes: rerun "
        "`POLYRET_DATA=../shared/data python scripts/findings.py` and commit the page"
    )
