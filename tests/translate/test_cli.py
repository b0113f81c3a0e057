from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.cli.main import main
from polyret.cli.translate import build_parser

FAST = ["--beams", "1", "--max-new-tokens", "5", "--chunk-size", "2", "--no-progress"]


def test_translate_command(
    squad_file: Path, marian_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = [
        "translate",
        "--input",
        str(squad_file),
        "--to",
        "de",
        "--model",
        str(marian_dir),
        "--out",
        str(out),
    ]
    assert main([*argv, *FAST]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'en.json'}: 5 paragraphs, 11 sentences, 7 questions" in printed
    assert f"{out / 'de.json'}: 16 texts translated" in printed
    de = json.loads((out / "de.json").read_text(encoding="utf-8"))
    ids = [q["id"] for a in de["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert ids == ["q0", "q1", "q2", "q3", "q4", "q5", "q6"]
    # Run again: everything is resumed, nothing translated.
    assert main([*argv, *FAST]) == 0
    assert f"{out / 'de.json'}: 0 texts translated" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--input": "missing.json"}, "missing.json: file not found"),
        ({"--model": "/nonexistent/opus-mt-en-de"}, "no such directory"),
        ({"--model": "polyret-test/no-such-model"}, "pass --model DIR"),
        ({"--to": "de,en"}, "includes the source language"),
        ({"--to": "German"}, "not a language code"),
    ],
)
def test_user_errors_print_one_line(
    change: dict[str, str],
    message: str,
    squad_file: Path,
    marian_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    args = {
        "--input": str(squad_file),
        "--to": "de",
        "--model": str(marian_dir),
        "--out": str(tmp_path / "o"),
    }
    args.update(change)
    argv = ["translate", *(x for kv in args.items() for x in kv), *FAST]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("polyret translate: error: ") and message in err
    assert "\n" not in err


def test_bad_answer_start_names_file_record_and_field(
    squad_file: Path, marian_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = json.loads(squad_file.read_text())
    obj["data"][1]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] = 31
    squad_file.write_text(json.dumps(obj))
    argv = [
        "translate",
        "--input",
        str(squad_file),
        "--to",
        "de",
        "--model",
        str(marian_dir),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, *FAST]) == 2
    assert (
        f"{squad_file}: qas id q4: field 'answer_start': answer_start 31 lies outside every sentence"
        in (capsys.readouterr().err)
    )


def test_parser_defaults() -> None:
    args = build_parser().parse_args(
        ["--input", "a.json", "--to", "de", "--model", "m", "--out", "o"]
    )
    assert (args.backend, args.beams, args.batch_size, args.source_lang) == (
        "transformers",
        4,
        32,
        "en",
    )


def test_translate_without_pysbd_names_the_extra(
    squad_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sys

    from polyret.translate.splitting import _segmenter

    # pysbd comes with the translate extra; without it, splitting fails before any model loads.
    monkeypatch.setitem(sys.modules, "pysbd", None)
    _segmenter.cache_clear()
    try:
        argv = ["translate", "--input", str(squad_file), "--to", "de", "--model",
                str(tmp_path / "no-model"), "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
        assert main(argv) == 2
    finally:
        _segmenter.cache_clear()
    err = capsys.readouterr().err
    assert "pip install 'polyret[translate]'" in err and len(err.strip().splitlines()) == 1
