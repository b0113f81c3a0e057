from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from polyret.debias import ISO_TO_NTREX, XQUAD_R_LANGUAGES, load_calibration, load_queries
from polyret.debias.calibration import evenly_spaced
from polyret.errors import ConfigError, DataError


def test_evenly_spaced() -> None:
    items = [str(i) for i in range(10)]
    assert evenly_spaced(items, 4) == ["0", "2", "5", "7"]
    assert evenly_spaced(items, 20) == items


def test_folder_source(calibration_dir: Path) -> None:
    (calibration_dir / "de.txt").write_text(
        "\n\n" + "\n".join(f"Satz {i}." for i in range(30)) + "\n"
    )
    calibration = load_calibration(calibration_dir, sentences=10)
    assert calibration.languages == ["de", "en", "ru"]
    assert calibration.texts["de"] == [f"Satz {i}." for i in range(0, 30, 3)]
    assert calibration.describe()["sentences"] == {"de": 10, "en": 10, "ru": 10}


def test_folder_errors(calibration_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown language 'fr'"):
        load_calibration(calibration_dir, languages=["de", "fr"], sentences=10)
    kept = load_calibration(calibration_dir, languages=["de", "fr"], sentences=10, missing_ok=True)
    assert kept.languages == ["de"] and kept.missing == ("fr",)
    with pytest.raises(DataError, match="only 12 sentences for language 'de'"):
        load_calibration(calibration_dir, sentences=13)
    with pytest.raises(ConfigError, match="at least 10"):
        load_calibration(calibration_dir, sentences=5)
    (calibration_dir / "README.txt").write_text("notes\n")
    with pytest.raises(DataError, match=r"README\.txt"):
        load_calibration(calibration_dir, sentences=10)


def _fake_ntrex(root: Path, codes: dict[str, int]) -> Path:
    folder = root / "ntrex-128" / "NTREX-128"
    folder.mkdir(parents=True)
    for code, n in codes.items():
        name = (
            "newstest2019-src.eng.txt.gz"
            if code == "src.eng"
            else f"newstest2019-ref.{code}.txt.gz"
        )
        with gzip.open(folder / name, "wt", encoding="utf-8") as f:
            f.writelines(f"{code} line {i}\n" for i in range(n))
    return root


def test_ntrex_source(tmp_path: Path) -> None:
    root = _fake_ntrex(tmp_path, {"src.eng": 40, "deu": 40, "srp-Cyrl": 40, "fra": 5})
    calibration = load_calibration(
        "ntrex", languages=["en", "de", "srp-Cyrl"], sentences=20, data_dir=root
    )
    assert calibration.texts["en"][:2] == ["src.eng line 0", "src.eng line 2"]
    assert calibration.texts["de"][-1] == "deu line 38"
    assert calibration.texts["srp-Cyrl"][0] == "srp-Cyrl line 0"
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        load_calibration("ntrex", languages=["de", "xx"], sentences=20, data_dir=root)
    with pytest.raises(DataError, match="only 5 sentences for language 'fr'"):
        load_calibration("ntrex", languages=["fr"], sentences=20, data_dir=root)


@pytest.mark.integration
def test_staged_ntrex(shared_data: Path) -> None:
    calibration = load_calibration("ntrex", sentences=1997, data_dir=shared_data)
    assert calibration.languages == list(XQUAD_R_LANGUAGES)
    assert {len(t) for t in calibration.texts.values()} == {1997}
    assert calibration.texts["de"][0].startswith("Mitglieder der Nationalversammlung")
    listed = {
        line.split()[0]
        for line in (shared_data / "ntrex-128" / "LANGUAGES.tsv").read_text().splitlines()
        if line.strip()
    }
    assert set(ISO_TO_NTREX.values()) - {"src.eng"} <= listed


def test_queries_from_lareqa_questions(tmp_path: Path) -> None:
    from lareqa_fixture import write_parallel_lareqa

    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=6)  # 24 questions
    queries = load_queries(folder, languages=["en", "de", "ru"], sentences=10)
    assert queries.languages == ["en", "de"] and queries.missing == ("ru",)
    assert queries.source.endswith("questions")
    en = json.loads((folder / "en.json").read_text())
    asked = [qa["question"] for a in en["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert queries.texts["en"] == evenly_spaced(asked, 10)

    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "de.txt").write_text("\n".join(f"Wo ist {i}?" for i in range(12)))
    from_folder = load_queries(tmp_path / "txt", languages=["en", "de"], sentences=10)
    assert from_folder.languages == ["de"] and from_folder.missing == ("en",)


def test_query_source_errors(tmp_path: Path) -> None:
    from lareqa_fixture import write_parallel_lareqa

    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=6)
    with pytest.raises(ConfigError, match="not queries"):
        load_queries("ntrex", languages=["en"])
    with pytest.raises(DataError, match="query source not found"):
        load_queries(tmp_path / "nowhere", languages=["en"])
    with pytest.raises(ConfigError, match="cover none of the languages ru, th"):
        load_queries(folder, languages=["ru", "th"], sentences=10)
    with pytest.raises(DataError, match="only 24 distinct queries for language 'de'"):
        load_queries(folder, languages=["de"], sentences=30)


def test_queries_leave_out_the_evaluated_questions(tmp_path: Path) -> None:
    from lareqa_fixture import write_parallel_lareqa
    from polyret.data.lareqa import load_lareqa

    # The fixture gives both datasets the same first titles and questions: other shares 2 of
    # its 6 articles (8 of 24 questions per language) with the evaluated dataset.
    evaluated = load_lareqa(write_parallel_lareqa(tmp_path / "eval", ("en", "de"), articles=2))
    other = write_parallel_lareqa(tmp_path / "other", ("en", "de"), articles=6)
    with pytest.raises(ConfigError, match="the questions being evaluated"):
        load_queries(tmp_path / "." / "eval", languages=["en"], sentences=10, evaluated=evaluated)
    queries = load_queries(other, languages=["en", "de"], sentences=16, evaluated=evaluated)
    asked = {q.text for data in evaluated.languages.values() for q in data.questions}
    assert all(len(t) == 16 and not set(t) & asked for t in queries.texts.values())
    with pytest.raises(DataError, match="only 16 distinct queries for language 'en'"):
        load_queries(other, languages=["en"], sentences=17, evaluated=evaluated)

    folder = tmp_path / "log"
    folder.mkdir()
    one = evaluated.languages["en"].questions[0].text
    (folder / "en.txt").write_text("\n".join([one] + [f"query {i}" for i in range(10)]))
    log = load_queries(folder, languages=["en"], sentences=10, evaluated=evaluated)
    assert log.texts["en"] == [f"query {i}" for i in range(10)]
