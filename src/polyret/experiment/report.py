"""The experiment report: Markdown tables, a trade-off plot, a heatmap and significance tests."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyret.evaluation.results import LareqaResult
from polyret.evaluation.significance import METHOD, Comparison
from polyret.experiment.config import CONFIG_FILE, MAIN_FAMILY, ExperimentConfig, StrategySpec
from polyret.experiment.questions import FAMILY, QuestionTest, question_tests
from polyret.experiment.stats import (
    ALPHA,
    BASE,
    KINDS,
    Centered,
    mean_std,
    significance,
    summarize,
)
from polyret.io import write_json, write_text
from polyret.reports.plots import save_figure
from polyret.reports.tables import markdown_table
from polyret.samplers.config import BatchStrategy
from polyret.training.config import Loss


def _fmt(value: tuple[float, float], n_seeds: int) -> str:
    mean, std = value
    if math.isnan(mean):
        return "–"
    if value[0] >= 10:  # rank distances
        return f"{mean:.0f} ± {std:.0f}" if n_seeds > 1 else f"{mean:.0f}"
    return f"{mean:.4f} ± {std:.4f}" if n_seeds > 1 else f"{mean:.4f}"


COLUMNS = [
    ("mono_map", "mono mAP"),
    ("cross_map", "cross mAP"),
    ("multi_map", "multi mAP"),
    ("rank_distance", "rank distance"),
    ("same_lang_first", "same-lang-first"),
]


def _table(
    rows: dict[str, dict[str, tuple[float, float]]],
    columns: Sequence[tuple[str, str]],
    seeds: dict[str, int],
) -> list[str]:
    present = [(k, label) for k, label in columns if any(k in r for r in rows.values())]
    body = [
        [name] + [_fmt(row.get(k, (float("nan"), 0.0)), seeds.get(name, 1)) for k, _ in present]
        for name, row in rows.items()
    ]
    return markdown_table(["condition", *(label for _, label in present)], body).split("\n")


def plot_mono_multi(
    config: ExperimentConfig, table: dict[str, dict[str, tuple[float, float]]], path: Path
) -> None:
    """Monolingual against multilingual mAP, one point per strategy (bars: std over seeds) and
    the base model: the trade-off between the two settings at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.name for s in config.strategies if s.name in table]
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    for name in [BASE, *names]:
        (xm, xs), (ym, ys) = table[name]["mono_map"], table[name]["multi_map"]
        marker = "s" if name == BASE else "o"
        ax.errorbar(xm, ym, xerr=xs, yerr=ys, marker=marker, capsize=3, linestyle="none")
        ax.annotate(name, (xm, ym), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.set_xlabel("monolingual mAP")
    ax.set_ylabel("multilingual mAP")
    ax.set_title(f"{config.name} ({config.base_model}): mono vs multilingual", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)


def _best(config: ExperimentConfig, table: dict[str, dict[str, tuple[float, float]]]) -> str:
    names = [s.name for s in config.strategies if s.name in table]
    return max(names, key=lambda n: np.mean([table[n][f"{k}_map"][0] for k in KINDS]))


def plot_tradeoff(
    config: ExperimentConfig,
    table: dict[str, dict[str, tuple[float, float]]],
    path: Path,
    suffix: str = "",
) -> None:
    """mAP of each kind against the share of monolingual batches; ``suffix``: centered rows too."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = sorted((s for s in config.strategies if s.name in table), key=lambda s: s.mono_share)
    x = [s.mono_share for s in specs]
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    for kind, color in zip(KINDS, ("tab:blue", "tab:orange", "tab:green"), strict=True):
        means = [table[s.name][f"{kind}_map"][0] for s in specs]
        stds = [table[s.name][f"{kind}_map"][1] for s in specs]
        ax.errorbar(x, means, yerr=stds, marker="o", capsize=3, color=color, label=f"{kind} mAP")
        ax.axhline(table[BASE][f"{kind}_map"][0], color=color, linestyle=":", linewidth=1)
        if suffix and all(s.name + suffix in table for s in specs):
            centered = [table[s.name + suffix][f"{kind}_map"][0] for s in specs]
            ax.plot(x, centered, marker="x", linestyle="--", color=color, alpha=0.7,
                    label=f"{kind} mAP {suffix}")  # fmt: skip
    for s, xi in zip(specs, x, strict=True):
        ax.annotate(
            s.name,
            (xi, ax.get_ylim()[0]),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
            fontsize=7,
            rotation=90,
        )
    ax.set_xlim(-0.05, 1.05)
    ax.set_xlabel("share of monolingual batches (0 = cross-only, 1 = mono-only)")
    ax.set_ylabel("mAP (dotted: base model" + (f"; dashed: {suffix}" if suffix else "") + ")")
    ax.set_title(
        f"{config.name} ({config.base_model}): mono / cross / multilingual trade-off", fontsize=9
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)


def plot_heatmap_delta(
    base: LareqaResult,
    best: Sequence[LareqaResult],
    name: str,
    path: Path,
    base_model: str = "base model",
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delta = np.mean([r.matrix("map") for r in best], axis=0) - base.matrix("map")
    langs = base.languages
    bound = float(np.nanmax(np.abs(delta))) or 1e-6
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(langs), 0.8 + 0.5 * len(langs)))
    im = ax.imshow(delta, cmap="RdBu", vmin=-bound, vmax=bound)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("candidate language")
    ax.set_ylabel("query language")
    for i in range(len(langs)):
        for j in range(len(langs)):
            if not np.isnan(delta[i, j]):
                color = "white" if abs(delta[i, j]) > 0.6 * bound else "black"
                ax.text(
                    j, i, f"{delta[i, j]:+.2f}", ha="center", va="center", fontsize=6, color=color
                )
    ax.set_title(f"mAP: {name} minus base ({base_model})", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)


def _findings(
    config: ExperimentConfig,
    table: dict[str, dict[str, tuple[float, float]]],
    tests: list[tuple[str, str, str, Comparison]],
) -> list[str]:
    lines = []
    for kind in KINDS:
        key = f"{kind}_map"
        ranked = sorted(table, key=lambda n: -table[n][key][0])
        if ranked:
            top = ranked[0]
            versus = (
                ""
                if top == BASE
                else f"; base {table[BASE][key][0]:.4f}, {table[top][key][0] - table[BASE][key][0]:+.4f}"
            )
            lines.append(f"- Best {kind} mAP: **{top}** ({table[top][key][0]:.4f}{versus}).")
    sizes = Counter(config.family_of(h) for h, *_ in tests)
    for h, b, kind, t in tests:
        below = t.p_holm is not None and t.p_holm < ALPHA
        if not t.covers_seeds:
            # Without seed variance a small p says only that the questions agree, not that the
            # training strategy (rather than the seed) made the difference.
            verdict = (
                f"Holm p {'below' if below else 'not below'} {ALPHA}, but with one seed the "
                "seed variance is not covered: descriptive, not a comparison of strategies"
            )
        elif below and len(sizes) > 1:
            family = config.family_of(h)
            verdict = f"significant after Holm correction over the {sizes[family]} tests of family {family}"
        elif below:
            verdict = f"significant after Holm correction over the {len(tests)} tests"
        else:
            verdict = "not significant after Holm correction"
        if t.diff == 0:
            change = f"{h} and {b} are equal on {kind} mAP"
        else:
            side = "higher" if t.diff > 0 else "lower"
            change = f"{h} is {abs(t.diff):.4f} {kind} mAP {side} than {b}"
        lines.append(
            f"- {change} (difference 95% CI [{t.ci_low:+.4f}, {t.ci_high:+.4f}], "
            f"p={t.p:.3g}, Holm p={t.p_holm:.3g}: {verdict})."
        )
    return lines


# How the report names the run facts the runner records (``meta``); other keys are shown
# with their underscores as spaces.
META_LABELS = {
    "polyret": "polyret version",
    "base_model": "base model",
    "dataset": "evaluation dataset",
    "evaluation_data": "evaluation data",
    "hardware": "hardware",
    "command": "command",
    "seeds": "seeds",
    "train_steps": "training steps",
    "wall_time_this_invocation_s": "wall time of this invocation",
}
# Shown in the training set-up instead (or not at all).
_META_IN_SETUP = ("base_model", "seeds", "train_steps", "precision")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _meta_lines(meta: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in meta.items():
        if key in _META_IN_SETUP:
            continue
        if key.endswith("_s") and isinstance(value, (int, float)):
            value = _duration(float(value))
        label = META_LABELS.get(key, key.replace("_", " "))
        lines.append(f"- {label[0].upper() + label[1:]}: {value}")
    return lines


def _strategy_line(spec: StrategySpec) -> str:
    extra = "".join(f", {k} {v}" for k, v in spec.train.items())
    if spec.family != MAIN_FAMILY:
        extra += f" (Holm family {spec.family})"
    if spec.strategy == BatchStrategy.MONO:
        return f"{spec.name}: monolingual batches only (α = 1){extra}"
    if spec.strategy == BatchStrategy.CROSS:
        return f"{spec.name}: cross-lingual batches only (α = 0){extra}"
    if spec.strategy == BatchStrategy.MIXED:
        return f"{spec.name}: mixed-language batches only (every pair its own languages){extra}"
    if spec.mixed_share:
        return (
            f"{spec.name}: hybrid, α = {spec.alpha:g}, mixed share {spec.mixed_share:g}, cross "
            f"share {1 - spec.alpha - spec.mixed_share:g}{extra}"
        )
    return f"{spec.name}: hybrid, α = {spec.alpha:g}{extra}"


def setup_lines(config: ExperimentConfig, meta: Mapping[str, Any] | None = None) -> list[str]:
    """Markdown: what was trained (data, languages, budget, optimiser, α per strategy, seeds)."""
    train = config.train_config(config.strategies[0], config.seeds[0])
    languages = ", ".join(train.languages) if train.languages else "every language of the set"
    data = f"{train.dataset}, languages {languages}"
    if train.exclude_titles:
        data += f"; articles left out: {', '.join(train.exclude_titles)}"
    if train.dev_fraction:
        data += f"; {train.dev_fraction:.0%} of the articles held out as a dev split"
    if train.context:
        data += "; passages with their paragraph as context"
    if train.ntrex_languages:
        data += f"; plus NTREX-128 sentence pairs in {', '.join(train.ntrex_languages)}"
    budget = (
        f"{train.max_steps} optimizer steps"
        if train.max_steps > 0
        else f"{train.epochs:g} epoch(s) over the training pairs"
    )
    precision = train.precision
    used = (meta or {}).get("precision")  # what the runner resolved it to on this hardware
    if used and used != precision:
        precision += f" (here {used})"
    elif precision == "auto":
        precision += " (bf16 where the device has it natively, else fp32)"
    loss = "in-batch negatives (MNRL)" + (
        f", GradCache chunks of {train.mini_batch_size}" if train.loss is Loss.CACHED_MNRL else ""
    )
    return [
        f"- Base model: {config.base_model}",
        f"- Training data: {data}",
        f"- Steps: {budget} per run, batch size {train.batch_size} pairs per device, "
        f"learning rate {train.learning_rate:g} ({train.lr_scheduler}, "
        f"{train.warmup_ratio:.0%} warm-up), scale {train.scale:g} (1 / temperature), "
        f"loss {loss}, precision {precision}",
        "- Strategies (α = share of monolingual batches): "
        + "; ".join(_strategy_line(s) for s in config.strategies),
        f"- Seeds: {', '.join(map(str, config.seeds))} (one run per strategy and seed)",
    ]


BIAS_LINES = [
    "- Rank distance: in the multilingual pool, how many ranks lie between a question's best- "
    "and worst-ranked answers (one per language), averaged over questions; lower means less "
    "language bias.",
    "- Same-language-first: the share of questions whose best-ranked answer is the one in the "
    "question's own language; lower means less language bias (chance: 1 / number of answers).",
]


def centering_section(
    config: ExperimentConfig, table: dict[str, dict[str, tuple[float, float]]], suffix: str
) -> list[str]:
    """Markdown: each condition with and without centering, and whether the two gains add up."""
    names = [BASE] + [s.name for s in config.strategies if s.name in table]
    names = [n for n in names if n + suffix in table]
    spec = config.centering
    lines = [
        "",
        f"## Language centering ({suffix[1:]}, calibration {spec.calibration if spec else '?'}"
        + (f", queries {spec.query_calibration}" if spec and spec.query_calibration else "")
        + ") as post-processing",
        "",
        "Every model is also scored with centering fitted with that model on the calibration text, "
        "from the same encoding of the evaluation texts. Training gain = condition minus base; "
        "centering gain = condition+centering minus condition.",
        "",
        "| condition | "
        + " | ".join(f"{k} mAP | {k} {suffix} | centering gain" for k in KINDS)
        + " |",
        "|---|" + "---|---|---|" * len(KINDS),
    ]
    for n in names:
        cells = []
        for k in KINDS:
            plain, cen = table[n][f"{k}_map"][0], table[n + suffix][f"{k}_map"][0]
            cells += [f"{plain:.4f}", f"{cen:.4f}", f"{cen - plain:+.4f}"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if len(names) < 2:
        return lines
    lines += [
        "",
        "Do training and centering add up? Gains over the base model (mAP); *both − sum* is 0 when "
        "the gains add exactly, negative when they overlap.",
        "",
        "| condition | kind | training alone | centering alone | both | both − best single | both − sum |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in names[1:]:
        for k in KINDS:
            key = f"{k}_map"
            b = table[BASE][key][0]
            train_gain = table[n][key][0] - b
            center_gain = table[BASE + suffix][key][0] - b
            both = table[n + suffix][key][0] - b
            lines.append(
                f"| {n} | {k} | {train_gain:+.4f} | {center_gain:+.4f} | {both:+.4f} | "
                f"{both - max(train_gain, center_gain):+.4f} | "
                f"{both - train_gain - center_gain:+.4f} |"
            )
    return lines


def significance_section(
    tests: list[tuple[str, str, str, Comparison]],
    suffix: str = "",
    clustered: bool = True,
    title: str = "## Significance tests (hybrid vs each baseline and the base model)",
    unit: str = "articles",
    family_of: Callable[[str], str] | None = None,
) -> list[str]:
    """Markdown: how the tests work, what limits them, and one row per test.

    ``clustered``: the tests were given the article of each question. ``family_of``: a row's
    Holm family (the config's ``family_of``); a column of its own when there are several.
    """
    families = [family_of(h) if family_of else MAIN_FAMILY for h, *_ in tests]
    sizes = Counter(families)
    first = tests[0][3]
    counts = sorted(
        {t.seeds_a for *_, t in tests} | {t.seeds_b for *_, t in tests if not t.b_fixed}
    )
    low, high = counts[0], counts[-1]
    span = str(low) if low == high else f"{low} to {high}"
    lines = [
        "",
        title,
        "",
        METHOD,
        "",
        f"- Unit: {first.n_questions} questions in {first.n_articles} {unit} "
        + (
            f"(questions clustered by {unit.rstrip('s')})."
            if clustered
            else "(the articles were not given: every question counts as its own article)."
        ),
        "- The base model is one fixed model: no seed variance on its side."
        + (
            f" `h{suffix}` vs `h` compares the same runs with and without centering, so their "
            f"seeds are paired. `h{suffix}` vs `base{suffix}` asks whether training still helps "
            f"after centering; `h{suffix}` vs `h` whether centering still helps after training."
            if suffix
            else ""
        ),
        _family_line(sizes, len(tests)),
    ]
    if high == 1:
        lines.append(
            "- **One seed per strategy: seed variance cannot be estimated.** These tests cover "
            "only question sampling, not training noise, so their p-values are too small and "
            "their intervals too narrow by as much as the seed matters (rows marked ¹). Read "
            "them as descriptive; comparing training strategies needs several seeds."
        )
    else:
        lines.append(
            f"- Seeds: {span} per strategy. A strategy's seed variance is estimated from its "
            f"{span} per-seed mAPs (n − 1 degrees of freedom), and the t reference widens the "
            f"intervals accordingly. With {span} seeds the seed variance limits what can be "
            "concluded: differences of the order of the seed std (the ± in the tables) cannot "
            "be told from training noise, and a row that is not significant is no evidence "
            "that two conditions are equal."
            + (
                " Rows marked ¹ involve a one-seed strategy, whose seed variance cannot be "
                "estimated: there the test covers only question sampling."
                if low == 1
                else ""
            )
        )
    several = len(sizes) > 1
    lines += [
        "",
        "| hybrid | baseline | kind | seeds | hybrid mAP | baseline mAP | diff | 95% CI | "
        "SE seeds / questions | p | Holm p |" + (" family |" if several else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if several else ""),
    ]
    for (h, b, kind, t), family in zip(tests, families, strict=True):
        if t.paired_seeds:
            n = f"{t.seeds_a} paired"
        elif t.b_fixed:
            n = f"{t.seeds_a} vs fixed"
        else:
            n = f"{t.seeds_a} vs {t.seeds_b}"
        mark = "" if t.covers_seeds else " ¹"
        lines.append(
            f"| {h} | {b} | {kind} | {n}{mark} | {t.mean_a:.4f} | {t.mean_b:.4f} | "
            f"{t.diff:+.4f} | [{t.ci_low:+.4f}, {t.ci_high:+.4f}] | "
            f"{t.se_seeds:.4f} / {t.se_questions:.4f} | {t.p:.3g} | {t.p_holm:.3g} |"
            + (f" {family} |" if several else "")
        )
    return lines


def _sizes(sizes: Mapping[str, int]) -> str:
    """Each Holm family with its number of tests: ``main (45 tests), alpha-sweep (30 tests)``."""
    return ", ".join(f"{name} ({n} tests)" for name, n in sizes.items())


def _family_line(sizes: Mapping[str, int], total: int) -> str:
    """The Family bullet: one family of ``total`` tests, or each family's size (``sizes``)."""
    if len(sizes) <= 1:
        return (
            f"- Family: Holm's correction over all {total} tests of this table (every kind, "
            f"every pair). A row is called significant only when its Holm p is below {ALPHA}; "
            f"then the chance of any false positive among the {total} is at most {ALPHA}. "
            "The uncorrected p is shown for reference, not to be read one row at a time."
        )
    return (
        f"- Families: Holm's correction within each family the config declares (a strategy's "
        f"`family:`; the base model and the baselines are in each): {_sizes(sizes)}. A row is called "
        f"significant only when its Holm p is below {ALPHA}; then the chance of any false "
        f"positive among a family's tests is at most {ALPHA}. Each family is a question asked on "
        "its own; across families the chance of a false positive adds up. The uncorrected p is "
        "shown for reference, not to be read one row at a time."
    )


@dataclass
class Curves:
    """Learning curves: the base model (step 0) and each run's scores at each budget.

    ``runs``: strategy -> seed -> steps -> result, every point on the same questions.
    """

    base: LareqaResult
    runs: dict[str, dict[int, dict[int, LareqaResult]]]

    def table(self) -> dict[str, dict[int, dict[str, tuple[float, float, int]]]]:
        """strategy -> steps -> "<kind>_map" -> (mean, std over seeds, seeds)."""
        out: dict[str, dict[int, dict[str, tuple[float, float, int]]]] = {}
        for name, by_seed in self.runs.items():
            steps = sorted({n for points in by_seed.values() for n in points})
            for n in steps:
                summaries = [points[n].summary() for points in by_seed.values() if n in points]
                row = {}
                for kind in KINDS:
                    values = [s.get(f"{kind}_map", float("nan")) for s in summaries]
                    mean, std = mean_std(values)
                    row[f"{kind}_map"] = (mean, std, len(values))
                out.setdefault(name, {})[n] = row
        return out


def plot_curves(
    config: ExperimentConfig,
    curves: Curves,
    path: Path,
    table: dict[str, dict[int, dict[str, tuple[float, float, int]]]] | None = None,
) -> None:
    """mono / cross / multi mAP against training steps, a line per strategy, ± std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = curves.table() if table is None else table
    base = curves.base.summary()
    kinds = [k for k in KINDS if f"{k}_map" in base]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for name, points in table.items():
            steps = [0, *sorted(points)]
            means = np.array(
                [base[f"{kind}_map"]] + [points[n][f"{kind}_map"][0] for n in steps[1:]]
            )
            stds = np.array([0.0] + [points[n][f"{kind}_map"][1] for n in steps[1:]])
            line = ax.plot(steps, means, marker="o", label=name)[0]
            ax.fill_between(steps, means - stds, means + stds, color=line.get_color(), alpha=0.2)
        ax.set_title(f"{kind} mAP")
        ax.set_xlabel("training steps (0 = base model)")
    axes[0][0].set_ylabel("mAP (band: ± std over seeds)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{config.name} ({config.base_model}): learning curves", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
    plt.close(fig)


def curves_section(config: ExperimentConfig, curves: Curves, folder: Path) -> list[str]:
    """Markdown: the curve plot, a table per budget, and the ordering of strategies per budget."""
    table = curves.table()
    plot_curves(config, curves, folder / "curves.png", table)
    steps = sorted({n for points in table.values() for n in points})
    base = curves.base.summary()
    kinds = [k for k in KINDS if f"{k}_map" in base]
    lines = [
        "",
        "## Learning curves",
        "",
        f"Every run scored at steps {', '.join(map(str, steps))} on {curves.base.dataset} "
        f"({sum(1 for _ in curves.base.settings)} settings). A point is the model after that "
        "many steps of the one run (its learning rate schedule is the whole run's), not a run "
        "trained for that budget. Values are mean ± std over seeds.",
        "",
        "![learning curves](curves.png)",
        "",
        "| strategy | steps | seeds | " + " | ".join(f"{k} mAP" for k in kinds) + " |",
        "|---|---|---|" + "---|" * len(kinds),
        "| base | 0 | – | " + " | ".join(f"{base[f'{k}_map']:.4f}" for k in kinds) + " |",
    ]
    for name, points in table.items():
        for n in sorted(points):
            row = points[n]
            cells = [f"{row[f'{k}_map'][0]:.4f} ± {row[f'{k}_map'][1]:.4f}" for k in kinds]
            seeds = row[f"{kinds[0]}_map"][2]
            lines.append(f"| {name} | {n} | {seeds} | " + " | ".join(cells) + " |")
    lines += ["", "Order of the strategies by mean mAP at each budget (best first):", ""]
    for kind in kinds:
        orders = []
        for n in steps:
            ranked = sorted(
                (name for name in table if n in table[name]),
                key=lambda name, n=n: -table[name][n][f"{kind}_map"][0],
            )
            orders.append((n, ranked))
        text = "; ".join(f"{n}: {' > '.join(r)}" for n, r in orders)
        changes = [f"{a[0]} → {b[0]}" for a, b in itertools.pairwise(orders) if a[1] != b[1]]
        verdict = (
            f"the order changes between {', '.join(changes)}"
            if changes
            else "the order does not change"
        )
        lines.append(
            f"- {kind}: {text} ({verdict}; differences within the ± are not resolved by "
            "these seeds)."
        )
    return lines


@dataclass
class OutOfDomain:
    """The evaluations of the base model and every run on one out-of-domain dataset."""

    name: str
    base: LareqaResult
    runs: dict[str, list[LareqaResult]]
    centered: Centered | None
    articles: Mapping[str, str]  # query id -> document, the clusters of the tests


OOD_COLUMNS = [
    ("cross_map", "cross mAP"),
    ("cross_accuracy@1", "cross acc@1"),
    ("multi_map", "multi mAP"),
    ("multi_mrr@10", "multi MRR@10"),
    ("multi_accuracy@1", "multi acc@1"),
    ("rank_distance", "rank distance"),
    ("same_lang_first", "same-lang-first"),
]


def _ood_table(
    base: LareqaResult, runs: dict[str, list[LareqaResult]]
) -> dict[str, dict[str, tuple[float, float]]]:
    def metrics(result: LareqaResult) -> dict[str, float]:
        s = result.summary()
        return {k: s[k] for k, _ in OOD_COLUMNS if k in s}

    table = {BASE: {k: (v, 0.0) for k, v in metrics(base).items()}}
    for name, results in runs.items():
        per_seed = [metrics(r) for r in results]
        table[name] = {k: mean_std([m[k] for m in per_seed]) for k in per_seed[0]}
    return table


def ood_section(
    config: ExperimentConfig, ood: OutOfDomain
) -> tuple[list[str], dict[str, Any], list[tuple[str, str, str, Comparison]]]:
    """Markdown, table and tests of one out-of-domain dataset (its own Holm family)."""
    table = _ood_table(ood.base, ood.runs)
    seeds = {name: len(results) for name, results in ood.runs.items()}
    suffix = config.centering.suffix if ood.centered is not None and config.centering else ""
    if suffix and ood.centered is not None:
        for name, row in _ood_table(ood.centered.base, ood.centered.runs).items():
            table[name + suffix] = row
            seeds[name + suffix] = len(ood.centered.runs.get(name, [ood.centered.base]))
    kinds = [k for k in ("cross", "multi") if ood.base.of_kind(k)]
    tests = (
        significance(config, ood.base, ood.runs, ood.centered, ood.articles, kinds)
        if ood.runs
        else []
    )
    lines = [
        "",
        f"## Out of domain: {ood.name} ({len(ood.base.languages)} languages)",
        "",
        "The same models on news sentences (NTREX-128's evaluation part, never used for "
        "calibration or training): find a sentence's translation in another language "
        "(cross) or among every language's sentences with the query's own language's other "
        "sentences as distractors (multi). Rank distance and same-language-first read as above "
        "(lower means less bias); here same-language-first is the share of queries with another "
        "sentence of their own language above every translation.",
        "",
        *_table(table, OOD_COLUMNS, seeds),
    ]
    if tests:
        lines += significance_section(
            tests,
            suffix,
            clustered=True,
            title=f"### Significance tests on {ood.name} (a family of its own)",
            unit="documents",
            family_of=config.family_of,
        )
    return lines, table, tests


@dataclass
class WithContext:
    """The base model and every run scored with sentence+context candidates (``eval.context``)."""

    base: LareqaResult
    runs: dict[str, list[LareqaResult]]

    @property
    def seeds(self) -> dict[str, int]:
        """Seeds per strategy."""
        return {name: len(results) for name, results in self.runs.items()}


def context_section(
    config: ExperimentConfig, context: WithContext, articles: Mapping[str, str] | None
) -> tuple[list[str], dict[str, Any], list[tuple[str, str, str, Comparison]]]:
    """Markdown, table and tests of the sentence+context scoring (a Holm family of its own)."""
    table = summarize(config, context.base, context.runs)
    tests = significance(config, context.base, context.runs, None, articles) if context.runs else []
    lines = [
        "",
        "## With each candidate's paragraph (sentence+context)",
        "",
        "The same models, with each candidate encoded as its sentence followed by its paragraph "
        "(`polyret eval --candidate-text sentence+context`), at "
        + (
            f"{config.eval.context_max_seq_length} tokens"
            if config.eval.context_max_seq_length
            else "the model's own maximum length"
        )
        + ". LAReQA's reference code scores candidates this way, and so do the published "
        "figures that come from it (LAReQA, Roy et al. 2020; arXiv 2408.10536): set those "
        "beside this table, not beside the sentence-only one above.",
        "",
        *_table(table, COLUMNS, context.seeds),
    ]
    if tests:
        lines += significance_section(
            tests,
            clustered=articles is not None,
            title="### Significance tests with sentence+context candidates (a family of its own)",
            family_of=config.family_of,
        )
    return lines, table, tests


def _json_ready(test: Comparison) -> dict[str, Any]:
    out = dataclasses.asdict(test)
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}


def write_report(
    config: ExperimentConfig,
    base: LareqaResult,
    runs: dict[str, list[LareqaResult]],
    folder: str | Path,
    meta: dict[str, Any],
    centered: Centered | None = None,
    articles: Mapping[str, str] | None = None,
    out_of_domain: Sequence[OutOfDomain] = (),
    curves: Curves | None = None,
    context: WithContext | None = None,
) -> Path:
    """Write ``report.md``, ``summary.json``, ``tradeoff.png``, ``heatmap_best_minus_base.png``
    and ``experiment.yaml`` (the configuration, linked from the report's header).

    ``centered``: the same models with language centering (``config.centering``), reported as
    extra conditions ``<name>+<method>``. ``articles``: question id -> article
    (``LareqaDataset.question_articles()``), the clusters of the significance tests.
    ``context``: the same models scored with sentence+context candidates, a section of its own.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = summarize(config, base, runs)
    seeds = {name: len(results) for name, results in runs.items()}
    suffix = config.centering.suffix if centered is not None and config.centering else ""
    if suffix and centered is not None:
        for name, row in summarize(config, centered.base, centered.runs).items():
            table[name + suffix] = row
            seeds[name + suffix] = len(centered.runs.get(name, [centered.base]))
    tests = significance(config, base, runs, centered, articles) if runs else []
    write_text(folder / CONFIG_FILE, config.to_yaml())  # linked from the report's header
    lines = [
        f"# Experiment {config.name}",
        "",
        f"What was trained (the saved configuration: [{CONFIG_FILE}]({CONFIG_FILE})):",
        "",
        *setup_lines(config, meta),
    ]
    if meta:
        lines += ["", "How it was run:", "", *_meta_lines(meta)]
    lines += [
        "",
        f"Evaluation: {base.dataset}, {len(base.languages)} languages ({', '.join(base.languages)}); "
        f"mAP per setting, macro-averaged over settings. Values are mean ± std over seeds.",
        "",
        "## Main results",
        "",
        *_table(table, COLUMNS, seeds),
        "",
        *BIAS_LINES,
    ]
    lines += _group_tables(config, table, seeds)
    if runs:
        lines += _plots_section(config, base, runs, table, folder, suffix)
    if curves is not None and curves.runs:
        lines += curves_section(config, curves, folder)
    if suffix:
        lines += centering_section(config, table, suffix)
    if tests:
        lines += significance_section(
            tests, suffix, clustered=articles is not None, family_of=config.family_of
        )
    questions = (
        question_tests(
            base,
            runs,
            articles,
            seen_languages=config.eval.seen_languages,
            high_resource=config.eval.high_resource,
            family_of=config.family_of,
        )
        if runs
        else []
    )
    if questions:
        lines += questions_section(config, questions)
    extra: dict[str, Any] = {}
    if context is not None:
        context_lines, context_table, context_tests = context_section(config, context, articles)
        lines += context_lines
        extra["sentence_context"] = {
            "table": _json_table(context_table),
            "seeds": context.seeds,
            "significance": _json_tests(config, context_tests),
        }
    ood_json: dict[str, Any] = {}
    for ood in out_of_domain:
        ood_lines, ood_table, ood_tests = ood_section(config, ood)
        lines += ood_lines
        ood_json[ood.name] = {
            "table": _json_table(ood_table),
            "significance": _json_tests(config, ood_tests),
        }
    lines += ["", "## What the numbers say (generated)", "", *_findings(config, table, tests), ""]
    write_text(folder / "report.md", "\n".join(lines))
    write_json(
        folder / "summary.json",
        {
            "meta": meta,
            "table": _json_table(table),
            "seeds": seeds,
            "significance_method": METHOD,
            "significance": _json_tests(config, tests),
            "out_of_domain": ood_json,
            "research_questions": _json_questions(config, questions),
            **extra,
        },
    )
    return folder / "report.md"


def _json_questions(config: ExperimentConfig, questions: Sequence[QuestionTest]) -> dict[str, Any]:
    tests = [
        {
            "question": q.question,
            "strategy": q.strategy,
            "kind": q.kind,
            **_json_ready(q.test),
            "holm_family": config.family_of(q.strategy),
        }
        for q in questions
    ]
    return {"family": FAMILY, "tests": tests}


def _json_table(table: dict[str, dict[str, tuple[float, float]]]) -> dict[str, Any]:
    return {n: {k: {"mean": v[0], "std": v[1]} for k, v in row.items()} for n, row in table.items()}


def _json_tests(
    config: ExperimentConfig, tests: Sequence[tuple[str, str, str, Comparison]]
) -> list[dict[str, Any]]:
    return [
        {
            "hybrid": h,
            "baseline": b,
            "kind": k,
            **_json_ready(t),
            "holm_family": config.family_of(h),
        }
        for h, b, k, t in tests
    ]


def _group_tables(
    config: ExperimentConfig, table: dict[str, dict[str, tuple[float, float]]], seeds: dict
) -> list[str]:
    """Markdown: seen vs unseen and high-resource vs other languages (where configured)."""
    seen, high = config.eval.seen_languages, config.eval.high_resource
    groups = [
        (
            seen,
            ("seen", "unseen"),
            f"Seen vs unseen languages (seen = {', '.join(seen or [])})",
            [
                "A mono or multilingual setting is seen when its query language is a training "
                "language; a cross-lingual setting when both languages are.",
                "",
            ],
        ),
        (
            high,
            ("high", "other"),
            f"High-resource ({', '.join(high or [])}) vs other query languages",
            [],
        ),
    ]
    lines: list[str] = []
    for languages, parts, title, intro in groups:
        if languages:
            cols = [(f"{p}_{k}_map", f"{p} {k}") for k in KINDS for p in parts]
            lines += ["", f"## {title}", "", *intro, *_table(table, cols, seeds)]
    return lines


def _plots_section(
    config: ExperimentConfig,
    base: LareqaResult,
    runs: dict[str, list[LareqaResult]],
    table: dict[str, dict[str, tuple[float, float]]],
    folder: Path,
    suffix: str,
) -> list[str]:
    """Draw the trade-off plots and the best strategy's heatmap; Markdown that shows them."""
    best = _best(config, table)
    plot_tradeoff(config, table, folder / "tradeoff.png", suffix)
    plot_mono_multi(config, table, folder / "tradeoff_mono_multi.png")
    plot_heatmap_delta(
        base, runs[best], best, folder / "heatmap_best_minus_base.png", config.base_model
    )
    return [
        "",
        "## Trade-off",
        "",
        "![trade-off](tradeoff.png)",
        "",
        "Monolingual against multilingual mAP, one point per strategy (bars: std over seeds):",
        "",
        "![mono vs multilingual](tradeoff_mono_multi.png)",
        "",
        f"## mAP per query × candidate language: {best} (best mean of mono, cross and multi "
        "mAP) minus base",
        "",
        "Monolingual settings on the diagonal, cross-lingual ones off it.",
        "",
        "![delta heatmap](heatmap_best_minus_base.png)",
    ]


def questions_section(config: ExperimentConfig, tests: Sequence[QuestionTest]) -> list[str]:
    """Markdown: the unseen-language and high-resource tests, a Holm family of their own (one
    per strategy family when the config declares several)."""
    sizes = Counter(config.family_of(q.strategy) for q in tests)
    several = len(sizes) > 1
    seen = ", ".join(config.eval.seen_languages or [])
    high = ", ".join(config.eval.high_resource or [])
    lines = [
        "",
        "## Research questions: unseen and high-resource languages",
        "",
        "- **Unseen languages** (seen = the training languages, " + seen + "): per strategy and "
        "kind, *unseen gain − seen gain*, where a gain is the trained model's AP minus the base "
        "model's on the same question. Negative: training helps unseen languages less. A "
        "question counts when it has seen and unseen settings of the kind.",
        f"- **High-resource languages** ({high}): per strategy, monolingual mAP over those query "
        "languages minus the base model's. Negative: training degrades them.",
        (
            f"- Unit, clusters and seeds as in the significance tests above. Family: Holm over "
            f"these {len(tests)} tests only ({FAMILY}); they are not in the table above's family."
            if not several
            else "- Unit, clusters and seeds as in the significance tests above. Families: Holm "
            f"over these tests only ({FAMILY}; not in the table above's families), within each "
            f"strategy family: {_sizes(sizes)}."
        )
        + (
            " ¹ One seed: the test covers question sampling only, not training noise."
            if any(not q.test.covers_seeds for q in tests)
            else ""
        ),
        "",
        "| question | strategy | kind | seeds | diff | 95% CI | p | Holm p | verdict |"
        + (" family |" if several else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if several else ""),
    ]
    for q in tests:
        t = q.test
        significant = t.p_holm is not None and t.p_holm < ALPHA
        if q.question == "unseen":
            verdict = (
                ("unseen gain smaller" if t.diff < 0 else "unseen gain larger")
                if significant
                else "no difference resolved"
            )
        else:
            verdict = (
                ("degraded" if t.diff < 0 else "improved") if significant else "no change resolved"
            )
        mark = "" if t.covers_seeds else " ¹"
        lines.append(
            f"| {q.question} | {q.strategy} | {q.kind} | {t.seeds_a} vs fixed{mark} | {t.diff:+.4f} | "
            f"[{t.ci_low:+.4f}, {t.ci_high:+.4f}] | {t.p:.3g} | {t.p_holm:.3g} | {verdict} |"
            + (f" {config.family_of(q.strategy)} |" if several else "")
        )
    return lines


def spec_by_name(config: ExperimentConfig) -> dict[str, StrategySpec]:
    return {s.name: s for s in config.strategies}
