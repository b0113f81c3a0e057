"""The corpus-scale evaluation report (MIRACL, BEIR-format folders): one Markdown page."""

from __future__ import annotations

from typing import Any

from polyret.reports.tables import fmt_number

__all__ = ["render_corpus_report"]


def _metric(value: float | None, digits: int = 4) -> str:
    return fmt_number(value, digits)


def render_corpus_report(results: dict[str, Any]) -> str:
    """A Markdown summary of :func:`run_corpus_eval`'s results."""
    lines = [
        f"# Corpus retrieval: {results['dataset']} ({results['split']})",
        "",
        f"- model: `{results['model']}`; precision: {results.get('precision', 'fp32')}",
        f"- top-k: {results['k']}; vectors: {results['vectors']['dtype']}, "
        f"{'title + text' if results['vectors']['include_title'] else 'text only'}; ties: {results['ties']}",
        "- metrics: pytrec_eval (trec_eval): nDCG@10 (primary), Recall@100, MRR@10 (run cut to 10)",
        "",
        "| language | queries | documents | nDCG@10 | Recall@100 | MRR@10 | encoded docs/s | search | search s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for label, lang in results["languages"].items():
        m, enc, srch = lang["metrics"], lang["encode"], lang["search"]
        index = srch["index"] + (
            f" (recall {srch['recall_vs_exact']:.3f})" if "recall_vs_exact" in srch else ""
        )
        docs_per_s = f"{enc['docs_per_s']:.0f}" if enc["docs_per_s"] else "reused"
        lines.append(
            f"| {label} | {lang['num_queries']} | {lang['num_docs']} | {_metric(m.get('ndcg@10'))} | "
            f"{_metric(m.get('recall@100'))} | {_metric(m.get('mrr@10'))} | {docs_per_s} | {index}, {srch['device']} | "
            f"{srch['seconds']:.1f} |"
        )
    avg = results["average"]
    lines.append(
        f"| **average** | | | **{_metric(avg.get('ndcg@10'))}** | {_metric(avg.get('recall@100'))} | "
        f"{_metric(avg.get('mrr@10'))} | | | |"
    )
    if results["k"] < 100:
        lines += [
            "",
            f"Note: k = {results['k']} < 100, so Recall@100 counts only the top {results['k']}.",
        ]
    pool = results.get("pool")
    if pool:
        cuts = pool["share_cutoffs"]
        lines += [
            "",
            f"## Multilingual pool ({pool['num_docs']} documents, {len(pool['languages'])} languages)",
            "",
            "Each language's queries against all corpora merged (ids prefixed `<lang>:`). Relevance is "
            "not parallel: the relevant own-language share is what a ranking driven by relevance alone "
            "approaches at the top, the pool share what a language-blind ranking would give.",
            "",
            "| query language | nDCG@10 pool | nDCG@10 own corpus | "
            + " | ".join(f"own-language share top-{c}" for c in cuts)
            + " | relevant own-language share | pool share |",
            "|---|---:|---:|" + "---:|" * (len(cuts) + 2),
        ]
        for label, entry in pool["languages"].items():
            own_corpus = results["languages"][label]["metrics"].get("ndcg@10")
            shares = " | ".join(_metric(entry.get(f"own_share@{c}"), 3) for c in cuts)
            lines.append(
                f"| {label} | {_metric(entry['metrics'].get('ndcg@10'))} | {_metric(own_corpus)} | {shares} | "
                f"{_metric(entry.get('relevant_own_share'), 3)} | {_metric(entry.get('pool_share'), 3)} |"
            )
        lines.append(
            f"| **average** | **{_metric(pool['average'].get('ndcg@10'))}** |"
            + " |" * (len(cuts) + 3)
        )
    return "\n".join(lines) + "\n"
