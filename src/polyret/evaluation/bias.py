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

Every measure is a mean over the queries with at least two relevant answers
(``n_queries`` of them; the ``n_left_out`` others have one): with one answer,
rank distance is 0 and same-language-first 1 by construction, which would
dilute the figures when a language subset leaves a question in one language
only (``BIAS_RULE``).
"""

from __future__ import annotations

import numpy as np

from polyret.evaluation.results import LareqaResult, SettingResult, is_bias_metric

__all__ = ["language_bias", "setting_bias"]


def setting_bias(s: SettingResult) -> dict[str, float]:
    """Bias numbers of one multilingual setting: means over its queries with at least two
    relevant answers (NaN when there are none)."""
    if s.kind != "multi":
        raise ValueError(f"language bias needs a multilingual setting, got {s.name}")
    used = s.bias_mask
    ranks = s.ranks[used].astype(np.float64)
    own = s.rank_langs.index(s.query_lang)
    present = ranks > 0
    others = present.copy()
    others[:, own] = False
    own_present = present[:, own]
    means = s.mean()
    distance = s.per_query["rank_distance"][used]
    out = {
        "n_queries": float(used.sum()),
        "n_left_out": float(s.n_queries - used.sum()),
        "rank_distance": means["rank_distance"],
        "rank_distance_median": float(np.median(distance)) if len(distance) else float("nan"),
        "same_lang_first": means["same_lang_first"],
        "same_lang_first_chance": means["same_lang_first_chance"],
        "own_rank": float(ranks[own_present, own].mean()) if own_present.any() else float("nan"),
        "other_rank": float(ranks[others].mean()) if others.any() else float("nan"),
    }
    out.update({k: v for k, v in means.items() if is_bias_metric(k) and k not in out})
    return out


def language_bias(result: LareqaResult) -> dict[str, dict[str, float]]:
    """query language -> :func:`setting_bias` of its multilingual setting."""
    return {s.query_lang: setting_bias(s) for s in result.of_kind("multi")}
