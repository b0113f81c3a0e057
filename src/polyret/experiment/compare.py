"""Compare two experiments that differ in one setting (precision, a library version, a machine):
every strategy both have, per kind, seed by seed and paired by seed.

For every strategy both experiments ran, every kind (mono, cross, multi) and both conditions
(plain, ``+center``): the reference's per-seed mAPs (their range is "the reference's seed
spread") and the other's; whether the other's mean lies inside that range; other − reference
with its 95% interval, seeds paired (the same seed trains on the same batches in both),
clustered by article (:mod:`polyret.evaluation.significance`), Holm over all; and each strategy
contrast (e.g. hybrid-0.5 − cross) in both, to see whether a conclusion drawn from it moves.
``polyret compare`` is the command.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyret.evaluation.results import LareqaResult
from polyret.evaluation.significance import compare_results, with_holm
from polyret.evaluation.store import is_saved, load_result
from polyret.experiment.stats import KINDS
from polyret.reports.tables import markdown_table

RUN = re.compile(r"^(?P<strategy>.+)-seed(?P<seed>\d+)(?P<center>\+center)?$")


def load_runs(evals: Path) -> dict[tuple[str, str], dict[int, LareqaResult]]:
    """(strategy, "" or "+center") -> seed -> evaluation, from ``<report_dir>/evals``."""
    out: dict[tuple[str, str], dict[int, LareqaResult]] = {}
    for folder in sorted(evals.iterdir()):
        match = RUN.match(folder.name)
        if match and is_saved(folder):
            key = (match["strategy"], match["center"] or "")
            out.setdefault(key, {})[int(match["seed"])] = load_result(folder)
    return out


def kind_map(result: LareqaResult, kind: str) -> float:
    """The macro mAP of ``kind``."""
    return float(result.summary()[f"{kind}_map"])


def compare_experiments(
    reference: Path,
    other: Path,
    articles: Mapping[str, str],
    labels: tuple[str, str] = ("reference", "other"),
) -> tuple[str, dict[str, Any]]:
    """(Markdown, JSON record) comparing the committed evaluations of two report folders."""
    ref_label, oth_label = labels
    ref, oth = load_runs(reference / "evals"), load_runs(other / "evals")
    keys = [k for k in oth if k in ref]
    if not keys:
        raise ValueError(f"no strategy has finished runs in both {reference} and {other}")
    rows, tests, record = [], [], []
    for (strategy, center), kind in itertools.product(sorted(keys), KINDS):
        seeds = sorted(set(ref[strategy, center]) & set(oth[strategy, center]))
        a = [oth[strategy, center][s] for s in seeds]
        b = [ref[strategy, center][s] for s in seeds]
        ref_maps = [kind_map(r, kind) for r in b]
        oth_maps = [kind_map(r, kind) for r in a]
        test = compare_results(a, b, kind, articles, paired_seeds=True)
        tests.append(test)
        inside = min(ref_maps) <= test.mean_a <= max(ref_maps)
        record.append(
            {
                "strategy": strategy + center,
                "kind": kind,
                "seeds": seeds,
                ref_label: ref_maps,
                oth_label: oth_maps,
                f"{oth_label}_mean_inside_{ref_label}_range": inside,
            }
        )
        rows.append([strategy + center, kind, ref_maps, oth_maps, inside])
    tests = with_holm(tests)
    lines = [
        f"# {oth_label} against {ref_label}: {other.name} vs {reference.name}",
        "",
        f"Per-seed mAP in each; {oth_label} − {ref_label} paired by seed (the same seed trains on the "
        "same batches), 95% interval over seeds and article-clustered questions, Holm over the "
        f"{len(tests)} tests of this table.",
        "",
    ]
    table = []
    for (name, kind, ref_maps, oth_maps, inside), test, rec in zip(
        rows, tests, record, strict=True
    ):
        rec |= {
            "diff": test.diff,
            "ci": [test.ci_low, test.ci_high],
            "p": test.p,
            "p_holm": test.p_holm,
        }
        table.append(
            [
                name,
                kind,
                " ".join(f"{v:.4f}" for v in ref_maps),
                f"{min(ref_maps):.4f}–{max(ref_maps):.4f}",
                " ".join(f"{v:.4f}" for v in oth_maps),
                "yes" if inside else "**no**",
                f"{test.diff:+.4f} [{test.ci_low:+.4f}, {test.ci_high:+.4f}]",
                f"{test.p_holm:.2g}",
            ]
        )
    lines.append(
        markdown_table(
            [
                "run",
                "kind",
                f"{ref_label} seeds",
                f"{ref_label} range",
                f"{oth_label} seeds",
                f"{oth_label} mean in range",
                f"{oth_label} − {ref_label} [95% CI]",
                "Holm p",
            ],
            table,
        )
    )
    contrasts = _contrasts(ref, oth, keys, articles)
    if contrasts:
        lines += [
            "",
            f"## The strategy contrasts in each of {ref_label} and {oth_label} (unpaired, 95% CI, no Holm)",
            "",
            markdown_table(["contrast", "kind", ref_label, oth_label], contrasts),
        ]
    record_out = {ref_label: str(reference), oth_label: str(other), "rows": record}
    return "\n".join(lines) + "\n", record_out


def _contrasts(
    ref: dict[tuple[str, str], dict[int, LareqaResult]],
    oth: dict[tuple[str, str], dict[int, LareqaResult]],
    keys: list[tuple[str, str]],
    articles: Mapping[str, str],
) -> list[list[str]]:
    """Rows: every pair of strategies, per kind, their difference in each experiment."""
    contrasts = []
    # hybrid first, so that its contrasts read hybrid − baseline
    strategies = sorted(
        {s for s, c in keys if not c}, key=lambda s: (not s.startswith("hybrid"), s)
    )
    for first, second in itertools.combinations(strategies, 2):
        for kind in KINDS:
            cells = [f"{first} − {second}", kind]
            for runs in (ref, oth):
                test = compare_results(
                    list(runs[first, ""].values()), list(runs[second, ""].values()), kind, articles
                )
                cells.append(f"{test.diff:+.4f} [{test.ci_low:+.4f}, {test.ci_high:+.4f}]")
            contrasts.append(cells)
    return contrasts
