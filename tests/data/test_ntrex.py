"""NTREX-128 layout, documents and the fixed calibration / evaluation split."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntrex_fixture import CALIBRATION_DOCS, EVALUATION_DOCS, write_ntrex
from polyret.data.ntrex import (
    NtrexPart,
    document_part,
    load_ntrex,
    ntrex_file,
    read_document_ids,
    require_calibration_part,
)
from polyret.debias.calibration import read_ntrex
from polyret.errors import ConfigError, DataError
from polyret.pairs import load_ntrex_pairs

CAL, EVAL = NtrexPart.CALIBRATION, NtrexPart.EVALUATION


def test_split_rule_is_pinned() -> None:
    # Changing the rule moves documents between parts: every committed result would change.
    for doc in ("bbc.381790", "rt.com.91337", "nytimes.184853", "euronews-en.153826"):
        assert document_part(doc) is EVAL, doc
    for doc in ("guardian.221754", "nytimes.184837", "euronews-en.153835", "cnn.304400"):
        assert document_part(doc) is CAL, doc
    assert {document_part(d) for d in CALIBRATION_DOCS} == {CAL}
    assert {document_part(d) for d in EVALUATION_DOCS} == {EVAL}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    a, b, c, k = "doc.a", "doc.b", "doc.c", "doc.k"
    docs = [c, c, a, a, a, k, b, b]
    en = [f"en {i}" for i in range(8)]
    de = [f"de {i}" for i in range(8)]
    de[3] = "  "  # an empty line in one language
    return write_ntrex(tmp_path, {"src.eng": en, "deu": de, "zho-CN": en}, docs)


def test_parts_of_a_fixture(fake: Path) -> None:
    cal = load_ntrex(fake, ["en", "de"], part="calibration")
    ev = load_ntrex(fake.parent, ["en", "de"], part=EVAL)  # the data root works too
    assert cal.part is CAL and ev.part is EVAL
    assert cal.lines == (2, 3, 4, 6, 7) and ev.lines == (0, 1, 5)
    assert cal.documents == ("doc.a",) * 3 + ("doc.b",) * 2
    assert cal.document_ids == ["doc.a", "doc.b"] and ev.document_ids == ["doc.c", "doc.k"]
    assert ev.by_document() == {"doc.c": [0, 1], "doc.k": [2]}
    assert cal.texts["en"] == ["en 2", "en 3", "en 4", "en 6", "en 7"]
    assert cal.texts["de"][1] == ""  # stripped; line-aligned, so kept as empty
    assert ev.texts["de"] == ["de 0", "de 1", "de 5"]
    assert cal.files["de"].name == "newstest2019-ref.deu.txt.gz"
    assert set(cal.lines).isdisjoint(ev.lines)
    assert set(cal.documents).isdisjoint(ev.documents)


def test_errors(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        load_ntrex(fake, ["en", "xx"], part=CAL)
    with pytest.raises(DataError, match=r"newstest2019-ref\.rus\.txt\.gz: file not found"):
        load_ntrex(fake, ["ru"], part=CAL)
    missing = load_ntrex(fake, ["en", "ru", "xx"], part=CAL, missing_ok=True)
    assert missing.languages == ["en"] and missing.missing == ("ru", "xx")
    assert load_ntrex(fake, ["xx"], part=CAL, codes={"xx": "deu"}).texts["xx"][0] == "de 2"
    with pytest.raises(
        ConfigError, match="NTREX-128 part='all': must be one of calibration, evaluation"
    ):
        load_ntrex(fake, ["en"], part="all")
    short = write_ntrex(tmp_path / "short", {"src.eng": ["a"]}, ["doc.a", "doc.a"])
    with pytest.raises(DataError, match="1 lines, expected 2"):
        load_ntrex(short, ["en"], part=CAL)
    only_eval = write_ntrex(tmp_path / "ev", {"src.eng": ["a"]}, ["doc.c"])
    with pytest.raises(DataError, match=r"no document of DOCUMENT_IDS\.tsv is in the calibration"):
        load_ntrex(only_eval, ["en"], part=CAL)
    with pytest.raises(DataError, match="NTREX-128 folder not found"):
        load_ntrex(tmp_path / "nowhere", ["en"], part=CAL)
    assert ntrex_file(fake, "zh").name == "newstest2019-ref.zho-CN.txt.gz"


def test_evaluation_part_is_refused_for_calibration_and_training(fake: Path) -> None:
    assert require_calibration_part("calibration", "x") is CAL
    with pytest.raises(ConfigError, match="Calibration text may read only NTREX-128's calibration"):
        read_ntrex(["en"], sentences=2, data_dir=fake.parent, part="evaluation")
    with pytest.raises(ConfigError, match="Training pairs may read only NTREX-128's calibration"):
        load_ntrex_pairs(fake, ["en", "de"], part=EVAL)
    # what they read by default never holds an evaluation sentence
    calibration = read_ntrex(["en", "de"], sentences=4, data_dir=fake.parent)
    assert calibration.texts["en"] == ["en 2", "en 3", "en 4", "en 6"]
    assert calibration.texts["de"] == ["de 2", "de 4", "de 6", "de 7"]  # blank line skipped
    pairs = load_ntrex_pairs(fake, ["en", "de"])
    assert {p.group for p in pairs} == {"ntrex:3", "ntrex:5", "ntrex:7", "ntrex:8"}
    evaluated = set(load_ntrex(fake, ["en", "de"], part=EVAL).texts["en"])
    assert not evaluated & {p.query for p in pairs}


@pytest.mark.integration
def test_staged_split(shared_data: Path) -> None:
    folder = shared_data / "ntrex-128"
    cal = load_ntrex(folder, ["en", "de"], part=CAL)
    ev = load_ntrex(folder, ["en", "de"], part=EVAL)
    assert (len(cal.document_ids), len(cal.lines)) == (61, 945)
    assert (len(ev.document_ids), len(ev.lines)) == (62, 1052)
    # disjoint by document, and together the whole file
    assert set(cal.documents).isdisjoint(ev.documents)
    assert sorted(cal.lines + ev.lines) == list(range(1997))
    doc_ids = read_document_ids(folder)
    for part in (cal, ev):
        for doc, positions in part.by_document().items():
            assert [part.lines[i] for i in positions] == [
                i for i, d in enumerate(doc_ids) if d == doc
            ]
    assert ev.document_ids[:3] == ["bbc.381790", "rt.com.91337", "nytimes.184853"]
    assert cal.document_ids[:3] == ["guardian.221754", "nytimes.184837", "euronews-en.153835"]
    assert ev.texts["en"][0] == "Welsh AMs worried about 'looking like muppets'"
    assert ev.texts["de"][0].startswith("Mitglieder der Nationalversammlung für Wales")
    assert cal.texts["en"][0] == "Sainsbury's plans push into UK beauty market"
    assert (cal.lines[0], cal.lines[-1], ev.lines[-1]) == (57, 1996, 1987)
    # centering keeps its default 300 sentences per language, with room to spare
    xquad_r = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    full = load_ntrex(folder, xquad_r, part=CAL)
    assert min(sum(1 for t in texts if t) for texts in full.texts.values()) == 945
