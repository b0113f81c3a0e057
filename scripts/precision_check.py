"""Does bf16 training change an experiment's conclusions? Compare its runs with fp32 runs.

Reads the committed evaluations of two experiments that differ only in precision (default:
``results/protocol-a-cpu`` in fp32 and ``results/protocol-a-cpu-bf16``), and for every strategy
both have, every kind (mono, cross, multi) and both conditions (plain, ``+center``) reports:

* the fp32 seeds' mAPs (their range is "the fp32 runs' seed spread") and the bf16 seeds' mAPs;
* whether the bf16 mean lies inside the fp32 range;
* bf16 - fp32 with its 95% interval, seeds paired (the same seed trains on the same batches in
  both precisions), clustered by article (``polyret.evaluation.significance``), Holm over all;
* each strategy contrast (e.g. hybrid-0.5 - cross) in fp32 and in bf16, to see whether the
  conclusion drawn from it moves.

    POLYRET_DATA=../shared/data python scripts/precision_check.py \
        --out results/protocol-a-cpu-bf16/precision_check.md
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

from polyret.data.lareqa import load_lareqa
from polyret.evaluation.results import LareqaResult
from polyret.evaluation.significance import compare_results, with_holm
from polyret.experiment.stats import KINDS
from polyret.experiment.store import is_saved, load_result
from polyret.io import write_json, write_text
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
    return float(result.summary()[f"{kind}_map"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fp32", type=Path, default=Path("results/protocol-a-cpu"))
    p.add_argument("--bf16", type=Path, default=Path("results/protocol-a-cpu-bf16"))
    p.add_argument("--dataset", default="xquad-r", help="the evaluated dataset (for its articles)")
    p.add_argument("--data-dir", default=None)
    p.add_argument(
        "--out", type=Path, default=Path("results/protocol-a-cpu-bf16/precision_check.md")
    )
    args = p.parse_args()

    articles = load_lareqa(args.dataset, data_dir=args.data_dir).question_articles()
    fp32, bf16 = load_runs(args.fp32 / "evals"), load_runs(args.bf16 / "evals")
    keys = [k for k in bf16 if k in fp32]
    if not keys:
        raise SystemExit(f"no strategy has finished runs in both {args.fp32} and {args.bf16}")

    rows, tests, record = [], [], []
    for (strategy, center), kind in itertools.product(sorted(keys), KINDS):
        seeds = sorted(set(fp32[strategy, center]) & set(bf16[strategy, center]))
        a = [bf16[strategy, center][s] for s in seeds]
        b = [fp32[strategy, center][s] for s in seeds]
        f_maps = [kind_map(r, kind) for r in b]
        b_maps = [kind_map(r, kind) for r in a]
        test = compare_results(a, b, kind, articles, paired_seeds=True)
        tests.append(test)
        inside = min(f_maps) <= test.mean_a <= max(f_maps)
        record.append(
            {
                "strategy": strategy + center,
                "kind": kind,
                "seeds": seeds,
                "fp32": f_maps,
                "bf16": b_maps,
                "bf16_mean_inside_fp32_range": inside,
            }
        )
        rows.append([strategy + center, kind, f_maps, b_maps, inside])
    tests = with_holm(tests)
    lines = [
        f"# bf16 against fp32: {args.bf16.name} vs {args.fp32.name}",
        "",
        "Per-seed mAP in each precision; bf16 − fp32 paired by seed (the same seed trains on the "
        "same batches), 95% interval over seeds and article-clustered questions, Holm over the "
        f"{len(tests)} tests of this table.",
        "",
    ]
    table = []
    for (name, kind, f_maps, b_maps, inside), test, rec in zip(rows, tests, record, strict=True):
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
                " ".join(f"{v:.4f}" for v in f_maps),
                f"{min(f_maps):.4f}–{max(f_maps):.4f}",
                " ".join(f"{v:.4f}" for v in b_maps),
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
                "fp32 seeds",
                "fp32 range",
                "bf16 seeds",
                "bf16 mean in range",
                "bf16 − fp32 [95% CI]",
                "Holm p",
            ],
            table,
        )
    )
    contrasts = []
    # hybrid first, so that its contrasts read hybrid − baseline
    strategies = sorted(
        {s for s, c in keys if not c}, key=lambda s: (not s.startswith("hybrid"), s)
    )
    for first, second in itertools.combinations(strategies, 2):
        for kind in KINDS:
            cells = [f"{first} − {second}", kind]
            for runs in (fp32, bf16):
                test = compare_results(
                    list(runs[first, ""].values()), list(runs[second, ""].values()), kind, articles
                )
                cells.append(f"{test.diff:+.4f} [{test.ci_low:+.4f}, {test.ci_high:+.4f}]")
            contrasts.append(cells)
    if contrasts:
        lines += [
            "",
            "## The strategy contrasts in each precision (unpaired, 95% CI, no Holm)",
            "",
            markdown_table(["contrast", "kind", "fp32", "bf16"], contrasts),
        ]
    write_text(args.out, "\n".join(lines) + "\n")
    write_json(
        args.out.with_suffix(".json"),
        {"fp32": str(args.fp32), "bf16": str(args.bf16), "rows": record},
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
