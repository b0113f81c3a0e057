"""Evaluation: LAReQA (XQuAD-R, MLQA-R) in every setting, per-query metrics, language bias."""

from __future__ import annotations

from polyret.evaluation.bias import language_bias, setting_bias
from polyret.evaluation.lareqa import (
    TIE_RULE,
    CandidateText,
    LareqaEmbeddings,
    LareqaEvalConfig,
    candidate_docnos,
    candidate_texts,
    encode_lareqa,
    evaluate_lareqa,
    evaluate_lareqa_embeddings,
    write_lareqa_runs,
)
from polyret.evaluation.results import LareqaResult, SettingResult

__all__ = [
    "TIE_RULE",
    "CandidateText",
    "LareqaEmbeddings",
    "LareqaEvalConfig",
    "LareqaResult",
    "SettingResult",
    "candidate_docnos",
    "candidate_texts",
    "encode_lareqa",
    "evaluate_lareqa",
    "evaluate_lareqa_embeddings",
    "language_bias",
    "setting_bias",
    "write_lareqa_runs",
]
