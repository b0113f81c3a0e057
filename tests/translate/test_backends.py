from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from polyret.errors import ModelError
from polyret.testing.translation import build_tiny_marian
from polyret.translate.backends import (
    CTranslate2Translator,
    DecodeOptions,
    TransformersTranslator,
    dir_fingerprint,
    load_translator,
)
from polyret.translate.codes import Family
from translate.squad_fixture import fixture_texts

DECODE = DecodeOptions(num_beams=1, max_new_tokens=6)
SENTENCES = ["The Panthers defense gave up just 308 points.", "Who led?", "Paris is the capital."]


def test_marian_is_one_direction(marian_dir: Path) -> None:
    marian = TransformersTranslator(str(marian_dir), DECODE)
    assert marian.family is Family.MARIAN and not marian.multi_target
    out = marian.translate_batch(SENTENCES, "en", "de")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)


def test_multi_target_marian_gets_the_target_token(tmp_path: Path) -> None:
    path = build_tiny_marian(tmp_path / "m", fixture_texts(), target_tokens=[">>deu<<", ">>spa<<"])
    marian = TransformersTranslator(str(path), DECODE)
    assert marian.multi_target
    tok = marian.tokenizer
    assert marian._encode(["Paris"], "en", "es")[0][0] == tok.convert_tokens_to_ids(">>spa<<")
    with pytest.raises(ModelError, match="no target token for 'fr'"):
        marian.check_languages("en", "fr")


def test_long_inputs_are_cut(marian_dir: Path) -> None:
    marian = TransformersTranslator(
        str(marian_dir), DecodeOptions(num_beams=1, max_new_tokens=4, max_input_tokens=4)
    )
    ids = marian._encode(["The Panthers defense gave up just 308 points."], "en", "de")
    assert len(ids[0]) == 4 and ids[0][-1] == marian.tokenizer.eos_token_id
    assert marian.truncated == 1
    assert len(marian.translate_batch(SENTENCES, "en", "de")) == 3


def test_fingerprint_follows_the_files(tmp_path: Path, marian_dir: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(marian_dir, copy, copy_function=shutil.copy2)
    before = dir_fingerprint(copy)
    assert before == dir_fingerprint(copy)
    (copy / "generation_config.json").write_text("{}")
    assert dir_fingerprint(copy) != before


def test_missing_local_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such directory"):
        TransformersTranslator(str(tmp_path / "nope" / "model.d"), DECODE)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="is a file"):
        TransformersTranslator(str(tmp_path / "file"), DECODE)


def test_hub_id_offline_says_to_pass_a_local_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="pass --model DIR") as err:
        load_translator("polyret-test/no-such-mt-model", "transformers", DECODE)
    assert "not a local directory" in str(err.value)


def test_not_a_seq2seq_model(tmp_path: Path, marian_dir: Path) -> None:
    from transformers import BertConfig

    bert = tmp_path / "bert"
    shutil.copytree(marian_dir, bert)
    (bert / "model.safetensors").unlink()
    BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(bert)
    with pytest.raises(ModelError, match="cannot load translation model"):
        TransformersTranslator(str(bert), DECODE)


def test_ctranslate2_matches_transformers(tmp_path: Path, marian_dir: Path) -> None:
    pytest.importorskip("ctranslate2")
    from ctranslate2.converters import TransformersConverter

    ct2_dir = tmp_path / "ct2"
    TransformersConverter(
        str(marian_dir), copy_files=["tokenizer.json", "tokenizer_config.json"]
    ).convert(str(ct2_dir))
    ct2 = CTranslate2Translator(str(ct2_dir), DECODE)
    hf = TransformersTranslator(str(marian_dir), DECODE)
    assert ct2.family is Family.MARIAN
    # The same greedy path; transformers spends its last step on the forced </s>, CTranslate2
    # spends it on one more word, so the transformers output is a prefix of CTranslate2's.
    for a, b in zip(
        ct2.translate_batch(SENTENCES, "en", "de"),
        hf.translate_batch(SENTENCES, "en", "de"),
        strict=True,
    ):
        assert a.startswith(b) and b
    with pytest.raises(ModelError, match="not a CTranslate2 model"):
        CTranslate2Translator(str(marian_dir), DECODE)
