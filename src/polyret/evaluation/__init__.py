"""Evaluation: LAReQA (XQuAD-R, MLQA-R) in every setting, per-query metrics, language bias,
significance tests."""

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
from polyret.evaluation.significance import (
    Comparison,
    compare,
    compare_results,
    compare_values,
    holm,
    question_values,
    with_holm,
)

__all__ = [
    "TIE_RULE",
    "CandidateText",
    "Comparison",
    "LareqaEmbeddings",
    "LareqaEvalConfig",
    "LareqaResult",
    "SettingResult",
    "candidate_docnos",
    "candidate_texts",
    "compare",
    "compare_results",
    "compare_values",
    "encode_lareqa",
    "evaluate_lareqa",
    "evaluate_lareqa_embeddings",
    "holm",
    "language_bias",
    "question_values",
    "setting_bias",
    "with_holm",
    "write_lareqa_runs",
]
