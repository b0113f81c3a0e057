"""Markdown report and console table of a LAReQA evaluation (kept apart from the numbers)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from polyret.evaluation.bias import language_bias
from polyret.evaluation.results import (
    AGGREGATE_RULE,
    BIAS_RULE,
    SEEN_RULE,
    LareqaResult,
    SettingResult,
)
from polyret.reports.tables import fmt_number, fmt_percent, markdown_table

__all__ = ["headline_table", "markdown_table", "render_lareqa_report"]

GROUP_LABELS = {
    "mono": "monolingual X→X",
    "cross": "cross-lingual X→Y",
    "multi": "multilingual X→all",
}


def _group_label(group: str) -> str:
    kind = group.rsplit("_", 1)[-1]
    prefix = group[: -len(kind) - 1] if group != kind else ""
    return f"{prefix} {GROUP_LABELS[kind]}".strip()


def _metric_keys(result: LareqaResult) -> list[str]:
    first = next(iter(result.settings.values()))
    keys = ["map", *first.extra_metrics, f"ndcg@{first.ndcg_k}", *(f"recall@{k}" for k in first.ks)]
    return keys


def _metric_header(keys: Sequence[str]) -> list[str]:
    names = {"map": "mAP"}
    return [
        names.get(k, k.replace("ndcg", "nDCG").replace("recall", "R").replace("mrr", "MRR"))
        for k in keys
    ]


def aggregate_rows(result: LareqaResult) -> tuple[list[str], list[list[str]]]:
    keys = _metric_keys(result)
    groups = result.groups()
    aggregates = result.aggregates()
    header = ["setting group", "settings", *_metric_header(keys)]
    rows = [
        [_group_label(g), str(len(groups[g])), *(fmt_percent(aggregates[g][k]) for k in keys)]
        for g in aggregates
    ]
    return header, rows


def bias_summary_rows(result: LareqaResult) -> tuple[list[str], list[list[str]]]:
    s = result.summary()
    top = next((k for k in s if k.startswith("own_lang_top")), None)
    header = [
        "languages",
        "queries",
        "left out",
        "rank distance",
        "same-lang-first",
        "chance",
        "own-lang share of top-10",
    ]
    rows = []
    for prefix, label in (("", "all"), ("seen_", "seen"), ("unseen_", "unseen")):
        if f"{prefix}rank_distance" in s:
            used, left_out = result.bias_queries(f"{prefix}multi")
            rows.append(
                [
                    label,
                    str(used),
                    str(left_out),
                    fmt_number(s[f"{prefix}rank_distance"]),
                    fmt_percent(s[f"{prefix}same_lang_first"]),
                    fmt_percent(s[f"{prefix}same_lang_first_chance"]),
                    fmt_percent(s[f"{prefix}{top}"]) if top else "–",
                ]
            )
    return header, rows


def headline_table(result: LareqaResult) -> str:
    """Plain-text table for the console: aggregates (×100) and the bias summary."""
    header, rows = aggregate_rows(result)
    bias_header, bias_rows = bias_summary_rows(result)
    out = [
        f"{result.dataset}: {len(result.languages)} languages ({', '.join(result.languages)}), metrics ×100"
    ]
    out.append(_plain(header, rows))
    if bias_rows:
        out.append("")
        out.append(
            "language bias in the multilingual pool (queries with at least 2 answers; "
            "left out: queries with one)"
        )
        out.append(_plain(bias_header, bias_rows))
    return "\n".join(out)


def _plain(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = [f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:])]
    lines = [
        "  ".join(f.format(x) for f, x in zip(fmt, row, strict=True)) for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_lareqa_report(
    result: LareqaResult,
    meta: Mapping[str, Any] | None = None,
    plots: Mapping[str, str] | None = None,
) -> str:
    """The Markdown report: aggregates, bias, per-language mono, the cross matrix, multilingual.

    ``meta``: model spec/path, options, timings (as in results.json), and optionally
    ``protocol``: texts of another protocol than LAReQA's (``title``, ``data``, ``settings``,
    ``pool``, ``bias``; see :data:`polyret.evaluation.ntrex.PROTOCOL`); ``plots``:
    title -> relative PNG path.
    """
    meta = dict(meta or {})
    protocol = dict(meta.get("protocol") or {})
    parts = _header_section(result, meta, protocol)
    header, rows = aggregate_rows(result)
    parts += ["", "## Aggregates", "", markdown_table(header, rows)]
    parts += _bias_section(result, protocol)
    parts += _mono_section(result)
    parts += _matrix_section(result)
    parts += _multi_section(result, protocol)
    if plots:
        parts += ["", "## Plots", ""]
        parts += [f"![{title}]({path})" for title, path in plots.items()]
    return "\n".join(parts) + "\n"


def _header_section(
    result: LareqaResult, meta: Mapping[str, Any], protocol: Mapping[str, Any]
) -> list[str]:
    """Title, the facts of the run (model, languages, precision, time) and the reading rules."""
    parts = [f"# {protocol.get('title', 'LAReQA evaluation')}: {result.dataset}", ""]
    model = meta.get("model") or {}
    if isinstance(model, str):  # the experiment runner records the model spec alone
        model = {"spec": model}
    facts = [
        (
            "model",
            f"`{model.get('spec', '?')}`" + (f" ({model['path']})" if model.get("path") else ""),
        ),
        ("languages", ", ".join(result.languages)),
        (
            "training (seen) languages",
            ", ".join(result.seen_languages) if result.seen_languages else "not given",
        ),
        ("candidate text", str(result.candidate_text)),
        *((k, protocol[k]) for k in ("data", "settings") if k in protocol),
        ("polyret", str(meta.get("polyret_version", "?"))),
    ]
    precision = (meta.get("options") or {}).get("precision")
    if precision:
        facts.insert(-1, ("precision", str(precision)))
    timings = meta.get("timings") or result.timings
    if timings:
        facts.append(("time (s)", ", ".join(f"{k} {v:.1f}" for k, v in timings.items())))
    parts += [f"- **{k}**: {v}" for k, v in facts]
    parts += [
        "",
        "All retrieval metrics are ×100 (mAP = mean average precision over the full ranking of the pool).",
        f"Aggregates are {AGGREGATE_RULE}.",
        f"Ties: {result.tie_rule}",
    ]
    if result.seen_languages is not None:
        parts.append(f"Seen / unseen: {SEEN_RULE}.")
    return parts


def _bias_section(result: LareqaResult, protocol: Mapping[str, Any]) -> list[str]:
    """The language-bias summary and its per-query-language table (empty without a pool)."""
    bias = language_bias(result)
    if not bias:
        return []
    bh, br = bias_summary_rows(result)
    used, left_out = result.bias_queries()
    parts = [
        "",
        "## Language bias (multilingual pool)",
        "",
        protocol.get(
            "bias",
            "Rank distance = max − min rank of a query's parallel answers (its floor is the "
            "number of answers − 1); same-lang-first = share of queries whose best-ranked answer "
            "is in the query language, next to its chance level; own-lang share = share of the "
            "top-10 in the query language; own / other rank = mean rank of the answer in the "
            "query language / in the others.",
        ),
        f"Queries: {BIAS_RULE}. Used here: {used} of the {used + left_out} multilingual "
        f"queries ({left_out} left out).",
        "",
        markdown_table(bh, br),
        "",
    ]
    top = next((k for k in next(iter(bias.values())) if k.startswith("own_lang_top")), None)
    rows = []
    for lang, b in bias.items():
        seen = (
            ""
            if result.seen_languages is None
            else (" (seen)" if lang in result.seen_languages else " (unseen)")
        )
        rows.append(
            [
                f"{lang}{seen}",
                str(int(b["n_queries"])),
                str(int(b["n_left_out"])),
                fmt_number(b["rank_distance"]),
                fmt_number(b["rank_distance_median"]),
                fmt_percent(b["same_lang_first"]),
                fmt_percent(b["same_lang_first_chance"]),
                fmt_percent(b[top]) if top else "–",
                fmt_number(b["own_rank"]),
                fmt_number(b["other_rank"]),
            ]
        )
    header = ["query language", "queries", "left out", "rank distance", "median"]
    header += ["same-lang-first", "chance", "own-lang top-10", "own rank", "other rank"]
    parts.append(markdown_table(header, rows))
    return parts


def _setting_rows(
    result: LareqaResult,
    kind: str,
    keys: list[str],
    third: Callable[[SettingResult, dict[str, float]], str],
) -> list[list[str]]:
    """One row per setting of ``kind``: query language, queries, ``third(setting, means)``, and
    the metrics ``keys`` in percent."""
    rows = []
    for s in result.of_kind(kind):
        m = s.mean()
        rows.append(
            [s.query_lang, str(s.n_queries), third(s, m), *(fmt_percent(m[k]) for k in keys)]
        )
    return rows


def _mono_section(result: LareqaResult) -> list[str]:
    """One row per monolingual setting (empty when there is none)."""
    keys = _metric_keys(result)
    rows = _setting_rows(result, "mono", keys, lambda s, m: str(s.n_candidates))
    if not rows:
        return []
    header = ["language", "queries", "candidates", *_metric_header(keys)]
    return ["", "## Monolingual (X→X)", "", markdown_table(header, rows)]


def _matrix_section(result: LareqaResult) -> list[str]:
    """mAP by query language and candidate language, with the cross-lingual means."""
    langs = result.languages
    matrix = result.matrix("map")
    off = matrix.copy()
    np.fill_diagonal(off, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: one language only
        row_means, col_means = np.nanmean(off, axis=1), np.nanmean(off, axis=0)
    rows = []
    for i, x in enumerate(langs):
        cells = [
            f"**{fmt_percent(v)}**" if i == j else fmt_percent(v) for j, v in enumerate(matrix[i])
        ]
        rows.append([x, *cells, fmt_percent(row_means[i])])
    rows.append(["cross mean (as candidates)", *(fmt_percent(v) for v in col_means), ""])
    return [
        "",
        "## mAP by query language (rows) and candidate language (columns)",
        "",
        "Diagonal: monolingual; off the diagonal: cross-lingual over the question ids both "
        "languages hold. Last column / row: mean over the cross-lingual cells of the row / column."
        if result.of_kind("mono")
        else "Cross-lingual only (no monolingual setting). Last column / row: mean over the "
        "cells of the row / column.",
        "",
        markdown_table(["query \\ candidates", *langs, "cross mean"], rows),
    ]


def _multi_section(result: LareqaResult, protocol: Mapping[str, Any]) -> list[str]:
    """One row per multilingual setting, and what the pool is."""
    keys = _metric_keys(result)
    n_pool = next(iter(result.of_kind("multi"))).n_candidates
    rows = _setting_rows(result, "multi", keys, lambda s, m: fmt_number(m["n_relevant"], 2))
    header = ["query language", "queries", "answers per query", *_metric_header(keys)]
    return [
        "",
        "## Multilingual (X→all)",
        "",
        f"Pool ({n_pool} candidates per query): {protocol['pool']}."
        if "pool" in protocol
        else f"Pool: every candidate of every language ({n_pool} candidates); relevant: the "
        "answer sentence in every language that holds the question id.",
        "",
        markdown_table(header, rows),
    ]
