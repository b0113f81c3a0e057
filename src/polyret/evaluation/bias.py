"""Language bias in the multilingual pool, per query language.

A language-agnostic retriever ranks a question's parallel answers next to
each other whatever their language; a biased one pulls the query's own
language up. Read from the multilingual settings (X->all) of a result:

- ``rank_distance``: max rank - min rank among the relevant candidates
  (its floor is the number of relevant candidates - 1);
- ``same_lang_first``: share of queries whose best-ranked relevant candidate
  is in the query's language, next to its chance level (mean of 1/R);
- ``own_lang_top10``: share of the top-10 results in the query's language;
- ``own_rank`` / ``other_rank``: mean pooled rank of the answer in the query's
  own language and of the answers in the other languages.
"""

from __future__ import annotations

import numpy as np

from polyret.evaluation.results import LareqaResult, SettingResult

__all__ = ["language_bias", "setting_bias"]


def setting_bias(s: SettingResult) -> dict[str, float]:
    """Bias numbers of one multilingual setting (means over its queries)."""
    if s.kind != "multi":
        raise ValueError(f"language bias needs a multilingual setting, got {s.name}")
    ranks = s.ranks.astype(np.float64)
    own = s.rank_langs.index(s.query_lang)
    present = ranks > 0
    others = present.copy()
    others[:, own] = False
    own_present = present[:, own]
    pq = s.per_query
    out = {
        "n_queries": float(s.n_queries),
        "rank_distance": float(pq["rank_distance"].mean()),
        "rank_distance_median": float(np.median(pq["rank_distance"])),
        "same_lang_first": float(pq["same_lang_first"].mean()),
        "same_lang_first_chance": float(pq["same_lang_first_chance"].mean()),
        "own_rank": float(ranks[own_present, own].mean()) if own_present.any() else float("nan"),
        "other_rank": float(ranks[others].mean()) if others.any() else float("nan"),
    }
    top_key = f"own_lang_top{s.top_k}"
    if top_key in pq:
        out[top_key] = float(pq[top_key].mean())
    return out


def language_bias(result: LareqaResult) -> dict[str, dict[str, float]]:
    """query language -> :func:`setting_bias` of its multilingual setting."""
    return {s.query_lang: setting_bias(s) for s in result.of_kind("multi")}
