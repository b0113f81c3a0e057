"""Write small NTREX-128-like folders for tests (gzip files, DOCUMENT_IDS.tsv; no real data)."""

from __future__ import annotations

import gzip
from pathlib import Path

# Fake document ids and the part the split rule puts them in (pinned in tests/data/test_ntrex.py).
CALIBRATION_DOCS = ("doc.a", "doc.b", "doc.d", "doc.e")
EVALUATION_DOCS = ("doc.c", "doc.k", "doc.l")


def write_ntrex(root: Path, lines: dict[str, list[str]], docs: list[str]) -> Path:
    """``root/ntrex-128`` with one gzip file per NTREX code in ``lines`` and DOCUMENT_IDS.tsv.

    Lines end in ``\\r\\n`` as upstream. Returns the ``ntrex-128`` folder.
    """
    folder = root / "ntrex-128"
    (folder / "NTREX-128").mkdir(parents=True)
    (folder / "DOCUMENT_IDS.tsv").write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    for code, text in lines.items():
        name = (
            "newstest2019-src.eng.txt.gz"
            if code == "src.eng"
            else f"newstest2019-ref.{code}.txt.gz"
        )
        with gzip.open(folder / "NTREX-128" / name, "wt", encoding="utf-8", newline="") as f:
            f.write("".join(t + "\r\n" for t in text))
    return folder
