from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.lareqa_fixtures import hand_embeddings, write_hand_dataset
from polyret.data.lareqa import load_lareqa
from polyret.evaluation import LareqaResult, evaluate_lareqa_embeddings
from polyret.reports.lareqa import headline_table, markdown_table, render_lareqa_report
from polyret.reports.plots import plot_map_heatmap, plot_rank_distance


@pytest.fixture
def result(tmp_path: Path) -> LareqaResult:
    ds = load_lareqa(write_hand_dataset(tmp_path / "hand"))
    return evaluate_lareqa_embeddings(ds, hand_embeddings(), seen_languages=["en"])


def test_markdown_table() -> None:
    assert markdown_table(["a", "b"], [["x", "1"]]) == "| a | b |\n| --- | ---: |\n| x | 1 |"


def test_report_tables(result: LareqaResult) -> None:
    text = render_lareqa_report(
        result, {"model": {"spec": "m", "path": "/p"}}, {"heatmap": "map_heatmap.png"}
    )
    # mono en->en: AP 1/2, 1, 1 -> mAP 83.3; 3 queries, 4 candidates
    assert "| en | 3 | 4 | 83.3 |" in text
    # cross matrix row de: de->de 66.7 (bold diagonal), de->en (1 + 1/2) / 2 = 75.0
    assert "| de | **66.7** | 75.0 | 75.0 |" in text
    # en->de: AP 1/2, 1/2 -> 50.0, the only cross cell of column de
    assert "| cross mean (as candidates) | 50.0 | 75.0 |  |" in text
    # bias per query language: de rank distance (6 + 2) / 2, same-lang-first 50.0, chance 50.0
    assert "| de (unseen) | 2 | 0 | 4.0 | 4.0 | 50.0 | 50.0 |" in text
    # en: q3 has one answer (its id is not in de) and is left out; distance (2 + 3) / 2
    assert "| en (seen) | 2 | 1 | 2.5 | 2.5 | 100.0 | 50.0 |" in text
    assert "| all | 4 | 1 | 3.2 | 75.0 | 50.0 |" in text
    assert "Used here: 4 of the 5 multilingual queries (1 left out)" in text
    assert "| seen monolingual X→X | 1 | 83.3 |" in text
    assert "docno descending" in text and "`m` (/p)" in text
    assert "![heatmap](map_heatmap.png)" in text


def test_headline(result: LareqaResult) -> None:
    text = headline_table(result)
    lines = text.splitlines()
    assert lines[0].startswith("hand: 2 languages (de, en)")
    mono = next(line for line in lines if line.startswith("monolingual"))
    assert mono.split()[-7:-5] == ["2", "75.0"]  # settings, mAP
    assert any(line.startswith("unseen") and "4.0" in line for line in lines)


def test_plots_are_png(tmp_path: Path, result: LareqaResult) -> None:
    for fn, name in ((plot_map_heatmap, "h.png"), (plot_rank_distance, "r.png")):
        path = fn(result, tmp_path / "sub" / name)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [
        "h.png",
        "r.png",
    ]  # no temporaries left
