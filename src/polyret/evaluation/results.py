"""Per-query and aggregated LAReQA results: settings, seen/unseen split, flat summary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyret.evaluation import metrics

__all__ = [
    "BIAS_METRICS",
    "BIAS_RULE",
    "MIN_BIAS_ANSWERS",
    "MULTI",
    "LareqaResult",
    "SettingResult",
]

MULTI = "all"  # candidate language of the multilingual setting X->all
BIAS_METRICS = ("rank_distance", "same_lang_first", "same_lang_first_chance", "own_lang_top10")
MIN_BIAS_ANSWERS = 2
BIAS_RULE = (
    f"language-bias measures are means over the queries with at least {MIN_BIAS_ANSWERS} "
    "relevant answers in the multilingual pool; a query with one answer (its id in one "
    "evaluated language only) is left out: its rank distance is 0 and its same-language-first 1 "
    "by construction"
)

SEEN_RULE = (
    "a setting is seen when every language it involves is a training language: the query "
    "language for mono X->X and multilingual X->all (whose pool always holds every language), "
    "both X and Y for cross X->Y; otherwise it is unseen (at least one unseen language)"
)
AGGREGATE_RULE = (
    "macro means: the mean over a group's settings of each setting's mean over "
    "its queries; bias metrics are means over the multilingual settings (query languages) "
    f"of the means over their queries with at least {MIN_BIAS_ANSWERS} relevant answers"
)


def is_bias_metric(key: str) -> bool:
    """Whether ``key`` is a language-bias measure (averaged over :attr:`SettingResult.bias_mask`)."""
    return key in BIAS_METRICS or key.startswith("own_lang_top")


@dataclass
class SettingResult:
    """One setting: X->Y (mono when X == Y, cross otherwise) or X->all (multilingual).

    ``ranks``: int64 [n_q, n_slots], the 1-based rank of each relevant
    candidate in the full ranking of the pool; one slot for mono/cross, one per
    pool language for multilingual (0 where the id is absent in that language).
    ``own_top``: [n_q] share of the top-``top_k`` results in the query's own
    language (multilingual only). Bias measures are averaged over :attr:`bias_mask`
    (``BIAS_RULE``); ``per_query`` keeps every query. ``extra_metrics``: more per-query metrics
    by name (:func:`polyret.evaluation.metrics.metric_function`, e.g. ``mrr@10``,
    ``accuracy@1``). ``bias_values``: per-query bias values measured by the scorer, which replace
    the ones of the same name derived from the ranks (multilingual only; bitext, where the
    query's own-language copy is removed from the pool, measures ``same_lang_first`` there).
    """

    query_lang: str
    candidate_lang: str
    query_ids: list[str]
    n_candidates: int
    ranks: np.ndarray
    rank_langs: list[str]
    ks: tuple[int, ...] = (1, 5, 10, 100)
    ndcg_k: int = 10
    own_top: np.ndarray | None = None
    top_k: int = 10
    extra_metrics: tuple[str, ...] = ()
    bias_values: dict[str, np.ndarray] | None = None
    per_query: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.ranks = np.asarray(self.ranks, dtype=np.int64).reshape(len(self.query_ids), -1)
        pq = {
            "ap": metrics.average_precision(self.ranks),
            f"ndcg@{self.ndcg_k}": metrics.ndcg_at_k(self.ranks, self.ndcg_k),
        }
        for k in self.ks:
            pq[f"recall@{k}"] = metrics.recall_at_k(self.ranks, k)
        self.extra_metrics = tuple(self.extra_metrics)
        for name in self.extra_metrics:
            pq[name] = metrics.metric_function(name)(self.ranks)
        if self.bias_values and self.kind != "multi":
            raise ValueError(f"bias values belong to a multilingual setting, not {self.name}")
        if self.kind == "multi":
            own = self.rank_langs.index(self.query_lang)
            n_rel = (self.ranks > 0).sum(axis=1)
            pq["rank_distance"] = metrics.rank_distance(self.ranks)
            pq["same_lang_first"] = metrics.same_language_first(self.ranks, own)
            pq["same_lang_first_chance"] = 1.0 / np.maximum(n_rel, 1)
            if self.own_top is not None:
                pq[f"own_lang_top{self.top_k}"] = np.asarray(self.own_top, dtype=np.float64)
            pq["n_relevant"] = n_rel.astype(np.float64)
            for key, values in (self.bias_values or {}).items():
                values = np.asarray(values, dtype=np.float64)
                if values.shape != (self.n_queries,):
                    raise ValueError(
                        f"bias value {key!r} has shape {values.shape}, expected ({self.n_queries},)"
                    )
                pq[key] = values
        self.per_query = pq

    @property
    def kind(self) -> str:
        """ "mono", "cross" or "multi"."""
        if self.candidate_lang == MULTI:
            return "multi"
        return "mono" if self.candidate_lang == self.query_lang else "cross"

    @property
    def name(self) -> str:
        return f"{self.query_lang}->{self.candidate_lang}"

    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @property
    def bias_mask(self) -> np.ndarray:
        """[n_q] bool: the queries the bias measures average over, those with at least
        ``MIN_BIAS_ANSWERS`` relevant answers (``BIAS_RULE``); all False outside multilingual."""
        if self.kind != "multi":
            return np.zeros(self.n_queries, dtype=bool)
        return (self.ranks > 0).sum(axis=1) >= MIN_BIAS_ANSWERS

    @property
    def n_bias_queries(self) -> int:
        """How many queries the bias measures use (multilingual settings; else 0)."""
        return int(self.bias_mask.sum())

    def mean(self) -> dict[str, float]:
        """Mean of every per-query metric; ``ap`` is reported as ``map``. Bias measures are means
        over :attr:`bias_mask` (NaN when no query has two answers)."""
        out = {}
        mask = self.bias_mask
        for key, values in self.per_query.items():
            if is_bias_metric(key):
                values = values[mask]
                out[key] = float(values.mean()) if len(values) else float("nan")
                continue
            out["map" if key == "ap" else key] = float(values.mean()) if len(values) else 0.0
        return out


@dataclass
class LareqaResult:
    """Every setting of one evaluation, with aggregates over mono / cross / multi and seen / unseen."""

    dataset: str
    languages: list[str]
    settings: dict[str, SettingResult]
    seen_languages: list[str] | None = None
    tie_rule: str = ""
    candidate_text: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def setting(self, query_lang: str, candidate_lang: str) -> SettingResult:
        return self.settings[f"{query_lang}->{candidate_lang}"]

    def of_kind(self, kind: str) -> list[SettingResult]:
        return [s for s in self.settings.values() if s.kind == kind]

    def is_seen(self, s: SettingResult) -> bool | None:
        """Whether ``s`` is a seen setting (see ``SEEN_RULE``); None when no training languages were given."""
        if self.seen_languages is None:
            return None
        seen = set(self.seen_languages)
        langs = [s.query_lang] if s.kind != "cross" else [s.query_lang, s.candidate_lang]
        return all(lang in seen for lang in langs)

    def groups(self) -> dict[str, list[SettingResult]]:
        """Non-empty groups of settings: mono, cross, multi and, with training languages, seen_*/unseen_*."""
        out: dict[str, list[SettingResult]] = {}
        for kind in ("mono", "cross", "multi"):
            members = self.of_kind(kind)
            if members:
                out[kind] = members
        if self.seen_languages is not None:
            for kind in ("mono", "cross", "multi"):
                for label, want in (("seen", True), ("unseen", False)):
                    members = [s for s in self.of_kind(kind) if self.is_seen(s) is want]
                    if members:
                        out[f"{label}_{kind}"] = members
        return out

    def aggregates(self) -> dict[str, dict[str, float]]:
        """group -> metric -> macro mean over the group's settings (``AGGREGATE_RULE``)."""
        return {name: _macro(members) for name, members in self.groups().items()}

    def summary(self) -> dict[str, float]:
        """Flat numbers: ``mono_map``, ``cross_ndcg@10``, ``multi_recall@10``, ``rank_distance``,
        ``same_lang_first``, ``seen_cross_map``, ``unseen_rank_distance``, ..."""
        out: dict[str, float] = {}
        for group, values in self.aggregates().items():
            kind = group.rsplit("_", 1)[-1]
            prefix = group[: -len(kind)]  # "", "seen_" or "unseen_"
            for metric, value in values.items():
                if metric == "n_relevant":
                    continue
                if is_bias_metric(metric):
                    out[f"{prefix}{metric}"] = value
                else:
                    out[f"{group}_{metric}"] = value
        return out

    def bias_queries(self, group: str = "multi") -> tuple[int, int]:
        """(used, left out): queries of ``group``'s multilingual settings (``"multi"``,
        ``"seen_multi"``, ``"unseen_multi"``) that the bias measures use, and those they leave out
        (one relevant answer, ``BIAS_RULE``)."""
        members = self.groups().get(group, [])
        used = sum(s.n_bias_queries for s in members)
        return used, sum(s.n_queries for s in members) - used

    def matrix(self, metric: str = "map") -> np.ndarray:
        """[L, L] query language x candidate language means of ``metric`` (NaN where no setting)."""
        n = len(self.languages)
        out = np.full((n, n), np.nan)
        for s in self.settings.values():
            if s.kind != "multi":
                i, j = self.languages.index(s.query_lang), self.languages.index(s.candidate_lang)
                out[i, j] = s.mean()[metric]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-ready (per-setting means; per-query ranks are written separately)."""
        settings = {}
        for name, s in self.settings.items():
            settings[name] = {
                "kind": s.kind,
                "query_lang": s.query_lang,
                "candidate_lang": s.candidate_lang,
                "seen": self.is_seen(s),
                "n_queries": s.n_queries,
                "n_candidates": s.n_candidates,
                "metrics": s.mean(),
            }
            if s.kind == "multi":
                settings[name]["n_bias_queries"] = s.n_bias_queries
        used, left_out = self.bias_queries()
        return {
            "dataset": self.dataset,
            "languages": self.languages,
            "seen_languages": self.seen_languages,
            "seen_rule": SEEN_RULE if self.seen_languages is not None else None,
            "aggregate_rule": AGGREGATE_RULE,
            "tie_rule": self.tie_rule,
            "candidate_text": self.candidate_text,
            "n_settings": {k: len(self.of_kind(k)) for k in ("mono", "cross", "multi")},
            "bias_rule": BIAS_RULE,
            "bias_queries": {"used": used, "left_out": left_out},
            "summary": self.summary(),
            "aggregates": self.aggregates(),
            "settings": settings,
        }

    def ranks_records(self) -> Iterable[dict[str, Any]]:
        """One JSON-ready record per setting with every query's relevant ranks."""
        for name, s in self.settings.items():
            ranks: Sequence[Any] = s.ranks.tolist() if s.kind == "multi" else s.ranks[:, 0].tolist()
            record: dict[str, Any] = {
                "setting": name,
                "n_candidates": s.n_candidates,
                "query_ids": s.query_ids,
            }
            if s.kind == "multi":
                record["rank_langs"] = s.rank_langs
                if s.own_top is not None:
                    record[f"own_lang_top{s.top_k}"] = np.round(s.own_top, 6).tolist()
                for key, values in (s.bias_values or {}).items():
                    record[key] = np.round(np.asarray(values, dtype=np.float64), 6).tolist()
            record["ranks"] = ranks
            yield record


def _macro(members: Sequence[SettingResult]) -> dict[str, float]:
    means = [s.mean() for s in members]
    keys = means[0].keys()
    out = {}
    for k in keys:
        values = np.array([m[k] for m in means])
        if is_bias_metric(k):  # settings without a query of two answers (NaN) do not count
            values = values[~np.isnan(values)]
            out[k] = float(values.mean()) if len(values) else float("nan")
        else:
            out[k] = float(values.mean())
    return out
