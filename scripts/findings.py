"""Write ``results/README.md``: the five questions this project asks, answered from the committed
protocol A and B results, one row per question and protocol.

Every number comes from a committed report's ``summary.json`` or its committed evaluations
(``results/<protocol>/evals``); rerun this after a report changes:

    POLYRET_DATA=../shared/data python scripts/findings.py [--out PATH]

``tests/scripts/test_findings.py`` checks that the committed page is what this script writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
METHOD = "hybrid-0.5"
ALPHA = 0.05
PROTOCOLS = {
    "A": ("protocol-a", "train MLQA-R (ar de en es hi vi zh), evaluate the full XQuAD-R pool"),
    "B": ("protocol-b", "train XQuAD-R (en el ru th tr), evaluate the full MLQA-R pool"),
}


def _ci(t: dict[str, Any]) -> str:
    return f"{t['diff']:+.4f} [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]"


def _sig(t: dict[str, Any]) -> bool:
    return t.get("p_holm") is not None and t["p_holm"] < ALPHA


def _holm(t: dict[str, Any]) -> str:
    p = t["p_holm"]
    text = f"{p:.2g}" if p >= 0.001 else "< 0.001"
    return f"Holm p {text}" + ("" if _sig(t) else ", not significant")


def _setup(summary: dict[str, Any], config: dict[str, Any]) -> str:
    meta = summary["meta"]
    return (
        f"{meta.get('train_steps')} steps × {config['train'].get('batch_size')} pairs, "
        f"seeds {meta.get('seeds')}, {meta.get('precision')}"
    )


def _mrr_at_10(folder: Path, config: dict[str, Any]) -> tuple[str, str]:
    """Multilingual MRR@10 on NTREX-128 of the method against the base model, with its interval."""
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.ntrex import load_ntrex_eval
    from polyret.evaluation.significance import compare_values, question_values
    from polyret.evaluation.store import is_saved, load_result

    evals = folder / "evals"
    runs = sorted(p for p in evals.glob(f"{METHOD}-seed*@ntrex") if is_saved(p))
    base = evals / "base@ntrex"
    if not runs or not is_saved(base):
        return "not evaluated", "–"
    langs = load_lareqa(config["eval"]["dataset"], config["eval"].get("languages")).langs
    ntrex = load_ntrex_eval(langs)
    if config["eval"].get("ood_documents"):
        ntrex = ntrex.select_articles(config["eval"]["ood_documents"])
    a = question_values([load_result(p) for p in runs], "multi", metric="mrr@10")
    b = question_values(load_result(base), "multi", metric="mrr@10")
    t = compare_values(a, b, ntrex.question_articles(), b_fixed=True)
    number = (
        f"{METHOD} multilingual MRR@10 {t.mean_a:.3f} (base {t.mean_b:.3f}; "
        f"{t.diff:+.3f} [{t.ci_low:+.3f}, {t.ci_high:+.3f}], {len(runs)} seeds, "
        f"{t.n_articles} documents)"
    )
    if t.ci_low > 0:
        verdict = f"training on Wikipedia QA lifts news retrieval: {t.mean_a:.3f} MRR@10"
    elif t.ci_high < 0:
        verdict = "training on Wikipedia QA lowers news retrieval"
    else:
        verdict = "no change from the base model resolved"
    return number, verdict


def summary_of(name: str) -> dict[str, Any] | None:
    """The committed report summary of protocol ``name`` (None before its report exists)."""
    path = REPO / "results" / PROTOCOLS[name][0] / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def rows(name: str, summary: dict[str, Any]) -> list[str] | None:
    folder_name, what = PROTOCOLS[name]
    folder = REPO / "results" / folder_name
    import yaml

    config = yaml.safe_load((folder / "experiment.yaml").read_text())
    tests = {(t["hybrid"], t["baseline"], t["kind"]): t for t in summary["significance"]}
    if (METHOD, "mono", "multi") not in tests:
        return None
    questions = summary.get("research_questions", {}).get("tests", [])
    link = f"[{folder_name}]({folder_name}/README.md)"
    setup = f"{name}: {what}; {_setup(summary, config)}"

    unseen = [q for q in questions if q["question"] == "unseen" and q["strategy"] == METHOD]
    unseen_text = "; ".join(f"{q['kind']} {_ci(q)} ({_holm(q)})" for q in unseen)
    smaller = [q["kind"] for q in unseen if _sig(q) and q["diff"] < 0]
    larger = [q["kind"] for q in unseen if _sig(q) and q["diff"] > 0]
    verdict1 = "no difference between unseen and seen languages' gains is resolved"
    if smaller or larger:
        verdict1 = (
            "; ".join(
                [f"smaller on unseen languages in {', '.join(smaller)}"] * bool(smaller)
                + [f"larger on unseen languages in {', '.join(larger)}"] * bool(larger)
            )
            + "; elsewhere no difference resolved"
        )

    parts, words = [], []
    for baseline in ("mono", "cross"):
        for kind in ("mono", "cross", "multi"):
            t = tests[(METHOD, baseline, kind)]
            parts.append(f"vs {baseline}-only {kind} {_ci(t)} ({_holm(t)})")
            if _sig(t):
                words.append(f"{'above' if t['diff'] > 0 else 'below'} {baseline}-only on {kind}")
    verdict2 = (
        "; ".join(words) or "no difference resolved"
    ) + "; otherwise not significantly different"

    ood = summary.get("out_of_domain", {}).get("ntrex", {}).get("significance", [])
    ood_rows = [t for t in ood if t["hybrid"] == METHOD and t["baseline"] in ("mono", "cross")]
    ood_text = "; ".join(
        f"vs {t['baseline']}-only {t['kind']} {_ci(t)} ({_holm(t)})" for t in ood_rows
    )
    ood_words = [
        f"{'above' if t['diff'] > 0 else 'below'} {t['baseline']}-only on {t['kind']}"
        for t in ood_rows
        if _sig(t)
    ]
    verdict3 = (
        ("on news: " + "; ".join(ood_words)) if ood_words else "on news no difference resolved"
    )

    sweep = _alpha_sweep(summary, config, tests, setup, link)

    high = [q for q in questions if q["question"] == "high-resource"]
    high_text = "; ".join(f"{q['strategy']} {_ci(q)} ({_holm(q)})" for q in high)
    degraded = [q["strategy"] for q in high if _sig(q) and q["diff"] < 0]
    improved = [q["strategy"] for q in high if _sig(q) and q["diff"] > 0]
    verdict5 = (
        f"degraded by {', '.join(degraded)}"
        if degraded
        else f"no degradation resolved (lowest interval bound {min(q['ci_low'] for q in high):+.4f})"
    ) + (f"; improved by {', '.join(improved)}" if improved else "")

    return [
        f"| 1. unseen languages | {setup}: {METHOD}'s unseen gain − seen gain per kind | "
        f"{unseen_text} | {verdict1} | {link} |",
        f"| 2. hybrid vs mono-only and cross-only | {setup} | {'; '.join(parts)} | {verdict2} "
        f"| {link} |",
        *sweep,
        f"| 3. domain shift (NTREX-128 news, out of domain) | {setup}; {METHOD} against the "
        f"baselines on NTREX-128's evaluation part | {ood_text} | {verdict3} | {link} |",
        f"| 4. out-of-domain accuracy | {setup}; NTREX-128 multilingual pool | "
        f"{' | '.join(_mrr_at_10(folder, config))} | {link} |",
        f"| 5. high-resource languages ({', '.join(config['eval'].get('high_resource') or [])}) "
        f"| {setup}: monolingual mAP over them, each strategy − base | {high_text} | "
        f"{verdict5} | {link} |",
    ]


def _alpha_sweep(
    summary: dict[str, Any],
    config: dict[str, Any],
    tests: dict[tuple[str, str, str], dict[str, Any]],
    setup: str,
    link: str,
) -> list[str]:
    """Question 2's α sweep, where the protocol ran one: does another share of monolingual batches
    beat cross-only on the pool or mono-only monolingually, and where does the trade-off lie."""
    hybrids = [
        s for s in config["strategies"]
        if isinstance(s, dict) and s.get("strategy") == "hybrid"
        and not s.get("train") and not s.get("mixed_share")
    ]  # fmt: skip
    alphas = sorted((float(s["alpha"]), s["name"]) for s in hybrids)
    if len(alphas) < 2 or not all((n, "cross", "multi") in tests for _, n in alphas):
        return []
    table = summary["table"]
    curve = [("mono-only (α 1)", "mono"), *[(f"α {a:g}", n) for a, n in reversed(alphas)]]
    curve.append(("cross-only (α 0)", "cross"))
    points = "; ".join(
        f"{label} {table[n]['mono_map']['mean']:.3f} / {table[n]['multi_map']['mean']:.3f}"
        for label, n in curve
    )
    parts, beats = [], []
    for _, n in alphas:
        for baseline, kind in (("cross", "multi"), ("mono", "mono")):
            t = tests[(n, baseline, kind)]
            parts.append(f"{n} vs {baseline}-only {kind} {_ci(t)} ({_holm(t)})")
            if _sig(t) and t["diff"] > 0:
                beats.append(f"{n} beats {baseline}-only on {kind}")
    families = sorted({tests[(n, "cross", "multi")].get("holm_family", "main") for _, n in alphas})
    verdict = "; ".join(beats) or (
        "no α beats cross-only on the pool or mono-only monolingually; the α sweep trades "
        "monolingual for multilingual mAP along one line (mono / multi mAP: " + points + ")"
    )
    return [
        f"| 2b. the share of monolingual batches (α sweep) | {setup}; hybrid at α "
        f"{', '.join(f'{a:g}' for a, _ in alphas)}, Holm family {', '.join(families)} | "
        f"{'; '.join(parts)} | {verdict} | {link} |"
    ]


def family_note(name: str, summary: dict[str, Any]) -> str:
    """Which strategies share the protocol's Holm families: each one added to a family widens
    its correction, so the same difference's Holm p grows with the family."""
    tests = summary["significance"]
    families: dict[str, list[dict[str, Any]]] = {}
    for t in tests:
        families.setdefault(t.get("holm_family", "main"), []).append(t)

    def listed(family: list[dict[str, Any]]) -> str:
        names = list(dict.fromkeys(t["hybrid"] for t in family if "+" not in t["hybrid"]))
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    main = families.pop("main", [])
    others = [x for x in dict.fromkeys(t["hybrid"] for t in main) if "+" not in x and x != METHOD]
    text = (
        f"Protocol {name}'s main family holds {len(main)} tests: {listed(main)} against "
        "mono-only, cross-only and the base model (with and without centering); the table "
        f"answers for {METHOD}"
        + (
            "; the other strategies are read in their own pages (`results/designs/` for the batch "
            "designs), and each strategy added to a family widens its Holm correction."
            if others
            else "."
        )
    )
    for family, rows in families.items():
        text += (
            f" The {family} family ({len(rows)} tests: {listed(rows)}, the same comparisons) is "
            "corrected on its own, as the experiment config declares."
        )
    return text


def render() -> str:
    """The findings page, from the committed reports and evaluations."""
    lines = [
        "# Findings: the five questions, answered",
        "",
        "Generated by `scripts/findings.py` from the committed reports (`summary.json`) and "
        "evaluations; read each row with its report. Every interval is 95%; the unit is the "
        "parallel question clustered by article (NTREX-128: by document), with the seeds' "
        "variance added; Holm p is within the report's family (questions 1 and 5: the report's "
        'research-question family; 2: its main family; 3: its NTREX family). "Not '
        'significant" means not resolved, never "equal".',
        "",
        "| question | what was measured | number (95% interval) | verdict | report |",
        "|---|---|---|---|---|",
    ]
    missing, notes = [], []
    for name in PROTOCOLS:
        summary = summary_of(name)
        found = rows(name, summary) if summary is not None else None
        if found is None:
            missing.append(name)
        else:
            lines += found
            notes.append(family_note(name, summary))
    lines += ["", *notes]
    for name in missing:
        lines += [
            "",
            f"Protocol {name} ({PROTOCOLS[name][1]}): not finished yet; its rows appear when its "
            f"report is committed (`results/{PROTOCOLS[name][0]}/`).",
        ]
    lines += [
        "",
        "## MIRACL",
        "",
        "MIRACL (nDCG@10, Recall@100) cannot be reached from this workplace: no dataset hub, and "
        "polyret does not download it. Where it is available, clone `miracl/miracl` and "
        "`miracl/miracl-corpus` side by side under a data root and evaluate a trained model on "
        "the dev split:",
        "",
        "```bash",
        "# <root>/miracl/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-dev.tsv",
        "# <root>/miracl/miracl-v1.0-<lang>/qrels/qrels.miracl-v1.0-<lang>-dev.tsv",
        "# <root>/miracl-corpus/miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz",
        "polyret eval --dataset miracl --data-dir <root> --languages ar de en es hi ru zh \\",
        "    --model runs/protocol-a/runs/hybrid-0.5-seed1/final --split dev --k 100 \\",
        "    --output-dir results/miracl/hybrid-0.5-seed1",
        "```",
        "",
        "Add `--multilingual-pool` for the pool of all languages' corpora with its language "
        "shares, and `--debias ntrex` to score it again with language centering. The same path "
        "runs in the test suite on a small fixture in that layout "
        "(`tests/corpus/test_cli.py`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "README.md", help="where the page goes"
    )
    out = parser.parse_args(argv).out
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
