from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.lareqa_fixtures import (
    paragraph,
    write_hand_dataset,
    write_lang,
    write_random_dataset,
)
from polyret.data.lareqa import Candidate, Question, load_lareqa
from polyret.errors import DataError


def test_hand_dataset_records(tmp_path: Path) -> None:
    ds = load_lareqa(write_hand_dataset(tmp_path / "hand"))
    assert ds.name == "hand"
    assert ds.langs == ["de", "en"]  # sorted; LICENSE ignored
    en = ds.languages["en"]
    assert en.candidates[2] == Candidate("en", 2, 0, 1, 0, "A", "Beta one.", "Beta one. Beta two.")
    assert en.questions[0] == Question("q1", "en", "Which alpha?", 1, 0, 0, "A")
    assert [q.answer for q in en.questions] == [1, 2, 3]
    assert [q.answer for q in ds.languages["de"].questions] == [2, 3]
    assert len(en.sha256) == 64
    assert ds.n_questions == 5 and ds.n_candidates == 9


def test_id_helpers(tmp_path: Path) -> None:
    ds = load_lareqa(write_hand_dataset(tmp_path / "hand"))
    assert ds.languages_of("q1") == ["de", "en"]
    assert ds.languages_of("q3") == ["en"]
    assert ds.languages_of("nope") == []
    assert ds.shared_ids("en", "de") == ["q1", "q2"]
    assert ds.answer_index("q1", "de") == 2
    assert ds.answer_index("q3", "de") is None
    assert ds.answer_candidate("q2", "de").text == "Beta eins."


def test_language_subset_and_select_ids(tmp_path: Path) -> None:
    folder = write_hand_dataset(tmp_path / "hand")
    ds = load_lareqa(folder, ["en"])
    assert ds.langs == ["en"]
    full = load_lareqa(folder)
    sub = full.select_ids({"q2"})
    # only paragraph 1 survives, re-indexed; the answer still points at the same sentence
    assert [c.text for c in sub.languages["en"].candidates] == ["Beta one.", "Beta two."]
    assert sub.answer_candidate("q2", "en").text == "Beta one."
    assert sub.answer_candidate("q2", "de").text == "Beta eins."
    assert len(full.select_ids({"q2"}, all_candidates=True).languages["en"].candidates) == 4
    assert full.select_languages(["en"]).langs == ["en"]


def test_select_articles_keeps_whole_articles_in_every_language(tmp_path: Path) -> None:
    from lareqa_fixture import write_parallel_lareqa

    full = load_lareqa(write_parallel_lareqa(tmp_path / "par", ("en", "de"), articles=6))
    sub = full.select_articles(3)  # articles 0, 2 and 4
    for lang in ("en", "de"):
        assert {q.article for q in sub.languages[lang].questions} == {0, 2, 4}
        assert {c.article for c in sub.languages[lang].candidates} == {0, 2, 4}
        assert len(sub.languages[lang].questions) == 3 * 2 * 2  # articles x paragraphs x questions
        assert len(sub.languages[lang].candidates) == 3 * 2 * 3  # articles x paragraphs x sentences
    assert sub.shared_ids("en", "de") == sub.shared_ids("de", "en")
    q = sub.languages["de"].questions[-1]
    assert sub.answer_candidate(q.id, "de").sentence == int(q.id.rsplit("-", 1)[1])
    assert full.select_articles(6) is full and full.select_articles(100) is full


def test_question_articles_link_localized_titles_through_shared_ids() -> None:
    from polyret.data.lareqa import LareqaDataset, LareqaLanguage

    def lang(code: str, rows: list[tuple[str, int, str]]) -> LareqaLanguage:
        questions = [Question(qid, code, "?", 0, a, 0, title) for qid, a, title in rows]
        return LareqaLanguage(code, Path(f"{code}.json"), "0" * 64, questions, [])

    # MLQA-R style: titles localized, ids in some languages only. de article 0 holds q1 and q4;
    # q4 is not in en, yet it belongs to the English article "Paris" through q1.
    ds = LareqaDataset(
        "toy",
        Path("toy"),
        {
            "en": lang("en", [("q1", 0, "Paris"), ("q2", 0, "Paris"), ("q3", 1, "Rome")]),
            "de": lang("de", [("q1", 0, "Paris (Stadt)"), ("q4", 0, "Paris (Stadt)")]),
            "es": lang("es", [("q5", 0, "Madrid"), ("q4", 1, "París")]),
            "zh": lang("zh", [("q5", 0, "马德里")]),
        },
    )
    assert ds.question_articles() == {
        "q1": "Paris", "q2": "Paris", "q3": "Rome", "q4": "Paris", "q5": "Madrid",
    }  # fmt: skip
    # without English, the first language (sorted) names the article
    assert ds.select_languages(["de", "es", "zh"]).question_articles()["q1"] == "Paris (Stadt)"


def test_duplicate_sentences_stay_distinct(tmp_path: Path) -> None:
    write_lang(
        tmp_path,
        "xx",
        [{"title": "T", "paragraphs": [paragraph(["Same.", "Same."], [("a", "q?", 1)])]}],
    )
    ds = load_lareqa(tmp_path)
    assert [c.text for c in ds.languages["xx"].candidates] == ["Same.", "Same."]
    assert ds.languages["xx"].questions[0].answer == 1


def test_answer_crossing_sentence_end_uses_start(tmp_path: Path) -> None:
    p = paragraph(["One two.", "Three four."], [])
    p["qas"] = [
        {"id": "a", "question": "q?", "answers": [{"text": "two. Three", "answer_start": 4}]}
    ]
    write_lang(tmp_path, "xx", [{"title": "T", "paragraphs": [p]}])
    assert load_lareqa(tmp_path).languages["xx"].questions[0].answer == 0


def test_random_dataset_ids_partially_shared(tmp_path: Path) -> None:
    ds = load_lareqa(write_random_dataset(tmp_path / "r", n_articles=4))
    counts = {len(ds.languages_of(i)) for i in ds.question_ids}
    assert counts <= {1, 2, 3} and len(counts) > 1


# --- errors: each bad input gives one DataError naming the file, the record and the field


def _valid() -> dict[str, Any]:
    return {
        "version": "1.1",
        "data": [
            {
                "title": "Super_Bowl_50",
                "paragraphs": [
                    paragraph(["One.", "Two."], [("56be", "Which?", 1), ("56bf", "What?", 0)])
                ],
            }
        ],
    }


def _error(tmp_path: Path, obj: Any = None, text: str | None = None) -> DataError:
    path = tmp_path / "de.json"
    path.write_text(text if text is not None else json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_lareqa(tmp_path)
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)
    return info.value


def test_malformed_json_has_line_and_column(tmp_path: Path) -> None:
    err = _error(tmp_path, text='{"data": [\n  {"title": "x",,}\n]}')
    assert "line 2 column" in str(err)


@pytest.mark.parametrize(
    ("edit", "record", "field", "words"),
    [
        (lambda d: d.pop("data"), "top level", "data", "missing"),
        (lambda d: d["data"][0].pop("title"), "article 0", "title", "missing"),
        (
            lambda d: d["data"][0].update(paragraphs={}),
            "article 0 'Super_Bowl_50'",
            "paragraphs",
            "a list",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["sentences"].pop(),
            "article 0 'Super_Bowl_50' paragraph 0",
            "sentences",
            "1 sentences but 2 sentence_breaks",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["sentence_breaks"].__setitem__(1, [3, 1]),
            "article 0 'Super_Bowl_50' paragraph 0",
            "sentence_breaks",
            "entry 1",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["sentence_breaks"].__setitem__(0, ["0", 4]),
            "article 0 'Super_Bowl_50' paragraph 0",
            "sentence_breaks",
            "integers",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(answer_start=99),
            "article 0 'Super_Bowl_50' paragraph 0 question id 56be answer 0",
            "answer_start",
            "outside every sentence",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(
                answer_start=True
            ),
            "article 0 'Super_Bowl_50' paragraph 0 question id 56be answer 0",
            "answer_start",
            "an integer",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][1].update(id="56be"),
            "article 0 'Super_Bowl_50' paragraph 0 question id 56be",
            "id",
            "duplicate id",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(question=None),
            "article 0 'Super_Bowl_50' paragraph 0 question id 56be",
            "question",
            "null",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(answers=[]),
            "article 0 'Super_Bowl_50' paragraph 0 question id 56be",
            "answers",
            "no answer",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("id"),
            "article 0 'Super_Bowl_50' paragraph 0 question",
            "id",
            "missing",
        ),
    ],
)
def test_bad_records(tmp_path: Path, edit: Any, record: str, field: str, words: str) -> None:
    obj = _valid()
    edit(obj)
    err = _error(tmp_path, obj)
    assert err.record == record
    assert err.field == field
    assert words in err.reason


def test_duplicate_id_across_articles(tmp_path: Path) -> None:
    obj = _valid()
    obj["data"].append({"title": "B", "paragraphs": [paragraph(["X."], [("56bf", "Again?", 0)])]})
    err = _error(tmp_path, obj)
    assert err.record == "article 1 'B' paragraph 0 question id 56bf" and err.field == "id"


def test_same_id_different_structure_across_languages_is_fine(tmp_path: Path) -> None:
    write_lang(
        tmp_path, "aa", [{"title": "T", "paragraphs": [paragraph(["A.", "B."], [("x", "q?", 1)])]}]
    )
    write_lang(
        tmp_path,
        "bb",
        [
            {"title": "U", "paragraphs": [paragraph(["C."], [])]},
            {"title": "V", "paragraphs": [paragraph(["D.", "E.", "F."], [("x", "q?", 2)])]},
        ],
    )
    ds = load_lareqa(tmp_path)
    assert ds.answer_candidate("x", "bb").text == "F."
    assert ds.answer_candidate("x", "aa").text == "B."


def test_missing_language_lists_available(tmp_path: Path) -> None:
    write_hand_dataset(tmp_path)
    with pytest.raises(DataError) as info:
        load_lareqa(tmp_path, ["en", "fr"])
    assert "fr" in str(info.value) and "available: de, en" in str(info.value)
    assert info.value.path == str(tmp_path / "fr.json")


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_lareqa(tmp_path / "absent")
    with pytest.raises(DataError, match=r"no <lang>\.json"):
        load_lareqa(tmp_path)


def test_file_without_questions(tmp_path: Path) -> None:
    err = _error(tmp_path, {"data": []})
    assert "no questions" in str(err)


@pytest.mark.integration
def test_real_files_counts(shared_data: Path) -> None:
    xq = load_lareqa(shared_data / "lareqa" / "xquad-r")
    assert xq.langs == ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    assert all(len(d.questions) == 1190 for d in xq.languages.values())
    assert xq.n_candidates == 13014
    assert len(xq.languages["th"].candidates) == 852
    assert xq.languages["en"].questions[0].id == "56beb4343aeaaa14008c925b"
    assert xq.answer_candidate("56beb4343aeaaa14008c925b", "en").text.startswith(
        "The Panthers defense gave up"
    )
    ml = load_lareqa(shared_data / "lareqa" / "mlqa-r")
    assert {lang: len(d.questions) for lang, d in ml.languages.items()} == {
        "ar": 517, "de": 512, "en": 1148, "es": 500, "hi": 507, "vi": 511, "zh": 504,
    }  # fmt: skip
    assert ml.n_candidates == 20534
    sizes = [len(ml.languages_of(i)) for i in ml.question_ids]
    assert (sizes.count(2), sizes.count(3), sizes.count(4)) == (65, 263, 820)
    # the clusters of the significance tests: one per English article
    assert len(set(xq.question_articles().values())) == 48
    assert len(set(ml.question_articles().values())) == 520
