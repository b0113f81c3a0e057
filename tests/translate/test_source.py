from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from polyret.errors import DataError
from polyret.translate.source import load_squad
from translate.squad_fixture import ANSWER_SENTENCES, SENTENCE_COUNTS, SQUAD


def _write(tmp_path: Path, obj: Any) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_fixture_loads(squad_file: Path) -> None:
    source = load_squad(squad_file, "en")
    assert source.titles == ["Panthers", "Paris"]
    assert [len(p.sentences) for p in source.paragraphs] == SENTENCE_COUNTS
    assert [(q.id, q.answer_sentence) for p in source.paragraphs for q in p.qas] == ANSWER_SENTENCES
    assert source.split_paragraphs == 1
    assert source.skipped_impossible == 1
    assert source.paragraphs[1].sentences == ("Kony Ealy had 5 sacks.", "He started 9 games.")
    assert [p.article for p in source.paragraphs] == [0, 0, 1, 1, 1]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found") as err:
        load_squad(tmp_path / "nope.json", "en")
    assert err.value.path == str(tmp_path / "nope.json")


def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"title": "x",}\n]}', encoding="utf-8")
    with pytest.raises(DataError, match="malformed JSON at line 2") as err:
        load_squad(path, "en")
    assert err.value.path == str(path)


def test_answer_outside_every_sentence(tmp_path: Path) -> None:
    obj = copy.deepcopy(SQUAD)
    # Offset 23 is the two-space gap between the sentences of "Kony Ealy had 5 sacks.  He ...".
    obj["data"][0]["paragraphs"][1]["qas"][0]["answers"][0]["answer_start"] = 23
    path = _write(tmp_path, obj)
    with pytest.raises(DataError) as err:
        load_squad(path, "en")
    assert (err.value.path, err.value.record, err.value.field) == (
        str(path),
        "qas id q2",
        "answer_start",
    )
    assert str(err.value).startswith(
        f"{path}: qas id q2: field 'answer_start': answer_start 23 lies"
    )


def test_answer_past_the_context(tmp_path: Path) -> None:
    obj = copy.deepcopy(SQUAD)
    obj["data"][1]["paragraphs"][1]["qas"][1]["answers"][0]["answer_start"] = 900
    with pytest.raises(DataError, match="qas id q6: field 'answer_start': answer_start 900"):
        load_squad(_write(tmp_path, obj), "en")


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        ([[0, 22], [20, 43]], "break 1 \\[20, 43\\] is empty, out of order"),
        ([[0, 22], [24, 99]], "outside the context"),
        ([[0, 22], [24]], "not a \\[start, end\\] pair"),
        ([[0, 1], [1, 2], [22, 24]], "sentence 2 \\[22, 24\\] is only whitespace"),
    ],
)
def test_bad_sentence_breaks(tmp_path: Path, breaks: list[Any], message: str) -> None:
    obj = copy.deepcopy(SQUAD)
    obj["data"][0]["paragraphs"][1]["sentence_breaks"] = breaks
    with pytest.raises(DataError, match=message) as err:
        load_squad(_write(tmp_path, obj), "en")
    assert (err.value.record, err.value.field) == ("article 0 paragraph 1", "sentence_breaks")


def test_duplicate_id_and_wrong_types(tmp_path: Path) -> None:
    obj = copy.deepcopy(SQUAD)
    obj["data"][1]["paragraphs"][0]["qas"][0]["id"] = "q0"
    with pytest.raises(DataError, match="qas id q0: field 'id': duplicate id"):
        load_squad(_write(tmp_path, obj), "en")
    obj = copy.deepcopy(SQUAD)
    obj["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = "34"
    with pytest.raises(DataError, match="qas id q0: field 'answer_start': expected an integer"):
        load_squad(_write(tmp_path, obj), "en")
    with pytest.raises(DataError, match="top level: field 'data'"):
        load_squad(_write(tmp_path, {"version": "1.1"}), "en")


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["en", "th", "zh", "tr"])
def test_xquad_r_loads_with_the_same_answer_sentences(shared_data: Path, lang: str) -> None:
    path = shared_data / "lareqa" / "xquad-r" / f"{lang}.json"
    source = load_squad(path, lang)
    raw = json.loads(path.read_text(encoding="utf-8"))
    expected = []
    for article in raw["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                start = qa["answers"][0]["answer_start"]
                expected.append(
                    next(i for i, (s, e) in enumerate(para["sentence_breaks"]) if s <= start < e)
                )
    assert len(source.paragraphs) == 240 and source.n_questions == 1190
    assert [q.answer_sentence for p in source.paragraphs for q in p.qas] == expected
