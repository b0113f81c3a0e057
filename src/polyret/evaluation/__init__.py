"""Evaluation: LAReQA (XQuAD-R, MLQA-R) and NTREX-128 bitext in every setting, per-query metrics,
language bias, significance tests."""

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
from polyret.evaluation.ntrex import (
    NtrexEvalConfig,
    check_held_out,
    evaluate_ntrex,
    evaluate_ntrex_embeddings,
    load_ntrex_eval,
    score_ntrex,
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
    "NtrexEvalConfig",
    "SettingResult",
    "candidate_docnos",
    "candidate_texts",
    "check_held_out",
    "compare",
    "compare_results",
    "compare_values",
    "encode_lareqa",
    "evaluate_lareqa",
    "evaluate_lareqa_embeddings",
    "evaluate_ntrex",
    "evaluate_ntrex_embeddings",
    "holm",
    "language_bias",
    "load_ntrex_eval",
    "question_values",
    "score_ntrex",
    "setting_bias",
    "with_holm",
    "write_lareqa_runs",
]
