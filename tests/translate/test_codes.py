from __future__ import annotations

import pytest

from polyret.errors import ConfigError, ModelError
from polyret.translate.codes import (
    M2M_CODES,
    NLLB_CODES,
    Family,
    check_lang,
    lang_code,
    lang_token,
    marian_target_token,
)

XQUAD_LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def test_nllb_codes_are_nllb_languages() -> None:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert set(NLLB_CODES.values()) <= set(FAIRSEQ_LANGUAGE_CODES)


def test_m2m_codes_are_m2m_languages() -> None:
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    assert set(M2M_CODES.values()) == set(FAIRSEQ_LANGUAGE_CODES["m2m100"])


@pytest.mark.parametrize("lang", [*XQUAD_LANGS, "ja", "ko", "fr", "pt"])
def test_every_benchmark_language_has_codes(lang: str) -> None:
    assert lang_code(Family.NLLB, lang)
    assert lang_token(Family.M2M, lang) == f"__{M2M_CODES[lang]}__"


def test_examples() -> None:
    assert lang_token(Family.NLLB, "de") == "deu_Latn"
    assert lang_token(Family.NLLB, "zh") == "zho_Hans"
    assert lang_token(Family.NLLB, "zh-Hant") == "zho_Hant"
    assert lang_code(Family.M2M, "de") == "de"
    assert lang_token(Family.M2M, "de") == "__de__"


def test_unknown_language_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="'xx' has no NLLB code"):
        lang_token(Family.NLLB, "xx")


def test_marian_target_token_tries_iso1_then_iso3() -> None:
    assert marian_target_token("es", {">>es<<": 1, ">>fr<<": 2}) == ">>es<<"
    assert marian_target_token("es", {">>spa<<", ">>fra<<"}) == ">>spa<<"
    assert marian_target_token("ar", {">>ara<<"}) == ">>ara<<"
    assert marian_target_token("ar", {">>arb<<"}) == ">>arb<<"
    assert marian_target_token("zh", {">>cmn_Hans<<"}) == ">>cmn_Hans<<"
    assert marian_target_token("de", {">>es<<"}) is None


@pytest.mark.parametrize("bad", ["German", "DE", "d", "de_DE", "zh-hant", ""])
def test_check_lang_rejects_non_codes(bad: str) -> None:
    with pytest.raises(ConfigError, match="--to"):
        check_lang(bad)
