from __future__ import annotations

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


def _fake_ntrex(root: Path, codes: list[str]) -> Path:
    """10 lines of an evaluation document, then 40 of a calibration document, per code."""
    from ntrex_fixture import write_ntrex

    lines = {code: [f"{code} line {i}" for i in range(50)] for code in codes}
    write_ntrex(root, lines, ["doc.c"] * 10 + ["doc.a"] * 40)
    return root


def test_ntrex_source(tmp_path: Path) -> None:
    root = _fake_ntrex(tmp_path, ["src.eng", "deu", "srp-Cyrl", "fra"])
    calibration = load_calibration(
        "ntrex", languages=["en", "de", "srp-Cyrl"], sentences=20, data_dir=root
    )
    # only the calibration part (lines 10-49), evenly spaced
    assert calibration.texts["en"][:2] == ["src.eng line 10", "src.eng line 12"]
    assert calibration.texts["de"][-1] == "deu line 48"
    assert calibration.texts["srp-Cyrl"][0] == "srp-Cyrl line 10"
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        load_calibration("ntrex", languages=["de", "xx"], sentences=20, data_dir=root)
    with pytest.raises(
        DataError, match="only 40 sentences in the calibration part for language 'fr'"
    ):
        load_calibration("ntrex", languages=["fr"], sentences=41, data_dir=root)


@pytest.mark.integration
def test_staged_ntrex(shared_data: Path) -> None:
    calibration = load_calibration("ntrex", sentences=945, data_dir=shared_data)
    assert calibration.languages == list(XQUAD_R_LANGUAGES)
    assert {len(t) for t in calibration.texts.values()} == {945}  # the calibration part
    assert calibration.texts["de"][0].startswith("Sainsbury's plant Vorstoß")
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


def _write_articles(folder: Path, lang: str, articles: list[tuple[str, list[tuple[str, str]]]]):
    """``<lang>.json`` with one one-sentence paragraph per question: (title, [(id, question)])."""
    from evaluation.lareqa_fixtures import paragraph, write_lang

    return write_lang(
        folder,
        lang,
        [
            {
                "title": title,
                "paragraphs": [paragraph([f"{lang} {qid}."], [(qid, q, 0)]) for qid, q in qas],
            }
            for title, qas in articles
        ],
    )


def _mlqa_like(folder: Path) -> Path:
    """MLQA-R-like: localized titles; m1 asks about "Prime number" (素数 in zh, only its English
    copy has the English title), m2 is the zh copy of an evaluated question, m3.. are unrelated."""
    other = [(f"m{i}", f"en other {i}?") for i in range(3, 15)]
    _write_articles(
        folder,
        "en",
        [("Prime number", [("m1", "What is a prime?")]), ("Paris", [("m2", "Where?"), *other])],
    )
    zh_other = [(qid, f"zh {qid}?") for qid, _ in other]
    _write_articles(
        folder,
        "zh",
        [("素数", [("m1", "什么是素数?")]), ("巴黎", [("m2", "x 在哪里?"), *zh_other])],
    )
    return folder


def _xquad_like(folder: Path, langs: tuple[str, ...] = ("en", "zh")) -> Path:
    """XQuAD-R-like: English titles in every language; x1 is about "Prime_number", x3's zh copy
    is an MLQA-R question."""
    for lang in langs:
        where = "x 在哪里?" if lang == "zh" else f"{lang} where?"  # zh: an MLQA-R question
        _write_articles(
            folder,
            lang,
            [
                ("Prime_number", [("x1", f"{lang} prime?")]),
                ("Oxygen", [("x2", f"{lang} oxygen?"), ("x3", where)]),
                *[(f"Topic_{i}", [(f"x{i}", f"{lang} topic {i}?")]) for i in range(4, 16)],
            ],
        )
    return folder


def test_queries_leave_out_localized_titles_in_every_language(tmp_path: Path) -> None:
    from polyret.data.lareqa import load_lareqa

    # MLQA-R questions as queries, XQuAD-R evaluated: m1 (素数 in zh) is about the evaluated
    # "Prime_number" and m2's zh copy is an evaluated question, so both go in both languages.
    evaluated = load_lareqa(_xquad_like(tmp_path / "xquad"))
    mlqa = _mlqa_like(tmp_path / "mlqa")
    queries = load_queries(mlqa, languages=["en", "zh"], sentences=12, evaluated=evaluated)
    assert queries.texts["en"] == [f"en other {i}?" for i in range(3, 15)]
    assert queries.texts["zh"] == [f"zh m{i}?" for i in range(3, 15)]
    assert queries.left_out == {"en": 2, "zh": 2}
    assert queries.describe()["left_out"] == {"en": 2, "zh": 2}
    with pytest.raises(
        DataError, match=r"only 12 distinct queries for language 'zh' \(after leaving out 2"
    ):
        load_queries(mlqa, languages=["zh"], sentences=13, evaluated=evaluated)
    # Without an evaluated dataset nothing is left out.
    assert "什么是素数?" in load_queries(mlqa, languages=["zh"], sentences=14).texts["zh"]


def test_queries_use_the_evaluated_titles_of_every_language(tmp_path: Path) -> None:
    from polyret.data.lareqa import load_lareqa

    # XQuAD-R questions as queries, MLQA-R evaluated in zh only: its article is titled 素数, but
    # the English copy of the same id (en.json, not evaluated) names "Prime number".
    evaluated = load_lareqa(_mlqa_like(tmp_path / "mlqa"), ["zh"])
    xquad = _xquad_like(tmp_path / "xquad", ("en", "zh"))
    queries = load_queries(xquad, languages=["en", "zh"], sentences=13, evaluated=evaluated)
    assert "en prime?" not in queries.texts["en"] and "zh prime?" not in queries.texts["zh"]
    # x3's zh text is an evaluated zh question: its en copy goes too.
    assert "en where?" not in queries.texts["en"]
    assert "en topic 4?" in queries.texts["en"] and "en oxygen?" in queries.texts["en"]
    assert queries.left_out == {"en": 2, "zh": 2}


@pytest.mark.integration
def test_staged_queries_leave_out_shared_articles(shared_data: Path) -> None:
    from polyret.data.lareqa import load_lareqa

    # "Prime number" and "Harvard University" are in both datasets; MLQA-R names them in
    # ar, hi, vi and zh by localized titles (عدد أولي, अभाज्य संख्या, Đại học Harvard, 素数).
    xquad = load_lareqa("xquad-r", data_dir=shared_data)
    mlqa = load_queries(
        "mlqa-r", languages=xquad.langs, sentences=300, data_dir=shared_data, evaluated=xquad
    )
    assert mlqa.left_out == {"ar": 1, "de": 2, "en": 3, "es": 0, "hi": 1, "vi": 2, "zh": 1}
    # MLQA-R evaluated in zh only: its en.json links 素数 to "Prime number".
    mlqa_zh = load_lareqa("mlqa-r", ["zh"], data_dir=shared_data)
    xquad_queries = load_queries(
        "xquad-r", languages=["en", "zh"], sentences=300, data_dir=shared_data, evaluated=mlqa_zh
    )
    assert xquad_queries.left_out == {"en": 24, "zh": 24}
