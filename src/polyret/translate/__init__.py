"""Machine translation of SQuAD-format QA into a parallel LAReQA-format set.

``polyret translate`` (:mod:`polyret.cli.translate`) is the command; the pieces are
sentence splitting and joining (:mod:`.splitting`), language-code tables
(:mod:`.codes`), model backends (:mod:`.backends`), the translation cache
(:mod:`.cache`) and the resumable pipeline (:mod:`.pipeline`). Heavy libraries are
imported only when a model is loaded.
"""

from polyret.translate.backends import (
    CTranslate2Translator,
    DecodeOptions,
    ModelSpec,
    TransformersTranslator,
    Translator,
    load_translator,
)
from polyret.translate.cache import TranslationCache
from polyret.translate.codes import M2M_CODES, NLLB_CODES, Family
from polyret.translate.pipeline import (
    LanguageReport,
    TranslateConfig,
    TranslateReport,
    translate_dataset,
)
from polyret.translate.source import SourceParagraph, SourceQuestion, SourceSet, load_squad
from polyret.translate.splitting import join_sentences, split_sentences

__all__ = [
    "M2M_CODES",
    "NLLB_CODES",
    "CTranslate2Translator",
    "DecodeOptions",
    "Family",
    "LanguageReport",
    "ModelSpec",
    "SourceParagraph",
    "SourceQuestion",
    "SourceSet",
    "TransformersTranslator",
    "TranslateConfig",
    "TranslateReport",
    "TranslationCache",
    "Translator",
    "join_sentences",
    "load_squad",
    "load_translator",
    "split_sentences",
    "translate_dataset",
]
