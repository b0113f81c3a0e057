"""Language codes: ISO 639-1 (what polyret uses for file names) to each MT family's codes.

* NLLB-200 uses FLORES-200 codes (``deu_Latn``), which are also its special tokens.
* M2M-100 uses ISO 639-1-like codes (``de``); its tokens are ``__de__``.
* Marian/OPUS-MT models translate one direction each; multi-target ones
  (``opus-mt-en-ROMANCE``, ``opus-mt-tc-big-en-*``) pick the target with a
  ``>>xxx<<`` token in front of the source text, in ISO 639-1 or 639-3.

The tables are written out by hand (transformers keeps the families' lists inside
their tokenizers, without a mapping from ISO 639-1); ``tests/translate/test_codes.py``
checks every entry against transformers' own lists.
"""

from __future__ import annotations

import enum
import re

from polyret.errors import ConfigError, ModelError

__all__ = [
    "M2M_CODES",
    "NLLB_CODES",
    "NO_SPACE_LANGS",
    "Family",
    "check_lang",
    "lang_code",
    "lang_token",
    "marian_target_token",
]


class Family(str, enum.Enum):
    """How a seq2seq MT model is told the languages."""

    NLLB = "nllb"
    """NLLB-200: ``tokenizer.src_lang = "eng_Latn"``, decoder forced to start with ``deu_Latn``."""
    M2M = "m2m"
    """M2M-100: ``tokenizer.src_lang = "en"``, decoder forced to start with ``__de__``."""
    MARIAN = "marian"
    """One direction per model (Marian/OPUS-MT and any seq2seq model without language
    tokens); a multi-target model takes a ``>>xxx<<`` token before the source text."""


NLLB_CODES: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn",
    "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng", "bo": "bod_Tibt", "bs": "bos_Latn",
    "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fo": "fao_Latn", "fr": "fra_Latn",
    "ga": "gle_Latn", "gd": "gla_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn", "hu": "hun_Latn",
    "hy": "hye_Armn", "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "jv": "jav_Latn", "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr",
    "kn": "kan_Knda", "ko": "kor_Hang", "ky": "kir_Cyrl", "lb": "ltz_Latn", "lo": "lao_Laoo",
    "lt": "lit_Latn", "lv": "lvs_Latn", "mg": "plt_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym",
    "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "mt": "mlt_Latn", "my": "mya_Mymr",
    "nb": "nob_Latn", "ne": "npi_Deva", "nl": "nld_Latn", "nn": "nno_Latn", "no": "nob_Latn",
    "or": "ory_Orya", "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn",
    "ro": "ron_Latn", "ru": "rus_Cyrl", "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn",
    "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl", "th": "tha_Thai",
    "tl": "tgl_Latn", "tr": "tur_Latn", "ug": "uig_Arab", "uk": "ukr_Cyrl", "ur": "urd_Arab",
    "uz": "uzn_Latn", "vi": "vie_Latn", "xh": "xho_Latn", "yi": "ydd_Hebr", "yo": "yor_Latn",
    "zh": "zho_Hans", "zh-Hans": "zho_Hans", "zh-Hant": "zho_Hant", "zu": "zul_Latn",
}  # fmt: skip

# The M2M-100 languages (fairseq's list for m2m100_418M / 1.2B); ISO 639-1 except a few
# ISO 639-2/3 codes of languages without one (ast, ceb, ilo).
_M2M_LANGUAGES = [
    "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu",
    "ha", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "ilo", "is", "it", "ja", "jv", "ka",
    "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr",
    "ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd",
    "si", "sk", "sl", "so", "sq", "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr",
    "uk", "ur", "uz", "vi", "wo", "xh", "yi", "yo", "zh", "zu",
]  # fmt: skip
M2M_CODES: dict[str, str] = {
    **{c: c for c in _M2M_LANGUAGES},
    "nb": "no",
    "zh-Hans": "zh",
}

# ISO 639-1 -> ISO 639-3 (macro)language codes, for Marian ``>>xxx<<`` tokens when the
# NLLB code's three letters name an individual language instead (ara vs arb).
_ISO639_3_MACRO: dict[str, str] = {
    "ar": "ara", "az": "aze", "et": "est", "fa": "fas", "lv": "lav", "mg": "mlg", "mn": "mon",
    "ms": "msa", "ne": "nep", "no": "nor", "ps": "pus", "sq": "sqi", "sw": "swa", "uz": "uzb",
    "yi": "yid", "zh": "zho",
}  # fmt: skip

NO_SPACE_LANGS: frozenset[str] = frozenset({"zh", "zh-Hans", "zh-Hant", "ja", "yue"})
"""Languages whose sentences are joined without a space. Thai is not among them:
Thai writes a space between sentences (XQuAD-R th.json does, in 599 of 612 gaps)."""

_LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?$")


def check_lang(lang: str, *, option: str = "--to") -> str:
    """Return ``lang`` if it looks like an ISO 639 code (``de``, ``zh-Hant``); else ConfigError."""
    if not _LANG_RE.match(lang):
        raise ConfigError(
            f"{option}: {lang!r} is not a language code; use ISO 639-1 such as 'de' or 'zh-Hant'"
        )
    return lang


def lang_code(family: Family, lang: str) -> str:
    """The code of ``lang`` for an NLLB or M2M-100 model (``deu_Latn``, ``de``)."""
    if family is Family.MARIAN:
        raise ValueError(f"{family} has no language codes")
    table = NLLB_CODES if family is Family.NLLB else M2M_CODES
    if lang not in table:
        raise ModelError(
            f"language {lang!r} has no {family.value.upper()} code in polyret's table; "
            f"known: {', '.join(sorted(table))}"
        )
    return table[lang]


def lang_token(family: Family, lang: str) -> str:
    """The token that names ``lang`` for an NLLB or M2M-100 model (``deu_Latn``, ``__de__``)."""
    code = lang_code(family, lang)
    return code if family is Family.NLLB else f"__{code}__"


def marian_target_token(lang: str, vocab: set[str] | dict[str, int]) -> str | None:
    """The ``>>xxx<<`` token of a multi-target Marian model for ``lang``, or None if absent."""
    base = lang.split("-")[0]
    codes = [lang, base, _ISO639_3_MACRO.get(base, "")]
    if base in NLLB_CODES:
        nllb = NLLB_CODES[lang if lang in NLLB_CODES else base]
        codes += [nllb[:3], nllb]
    if base == "zh":
        codes += ["cmn_Hans", "cmn"]
    for code in codes:
        if code and f">>{code}<<" in vocab:
            return f">>{code}<<"
    return None
