"""PNG plots of a LAReQA evaluation (matplotlib, Agg backend; files written atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyret.evaluation.bias import language_bias
from polyret.evaluation.results import LareqaResult
from polyret.io import atomic_path

__all__ = ["plot_map_heatmap", "plot_rank_distance"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_map_heatmap(
    result: LareqaResult, path: str | Path, metric: str = "map", model: str | None = None
) -> Path:
    """Query language (rows) x candidate language (columns) heatmap of ``metric`` ×100; diagonal = mono.

    ``model``: named in the title."""
    plt = _pyplot()
    langs = result.languages
    values = 100 * result.matrix(metric)
    n = len(langs)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 + 0.6 * n), max(3.8, 1.2 + 0.55 * n)))
    try:
        image = ax.imshow(
            np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=max(1.0, np.nanmax(values))
        )
        ax.set_xticks(range(n), langs)
        ax.set_yticks(range(n), langs)
        ax.set_xlabel("candidate language")
        ax.set_ylabel("query language")
        label = "mAP" if metric == "map" else metric
        note = "\n(diagonal = monolingual)" if result.of_kind("mono") else ""
        who = f"{model}, " if model else ""
        ax.set_title(f"{who}{result.dataset}: {label} ×100{note}", fontsize=10)
        for i in range(n):
            for j in range(n):
                if not np.isnan(values[i, j]):
                    bright = values[i, j] > 0.6 * np.nanmax(values)
                    ax.text(
                        j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="black" if bright else "white", fontweight="bold" if i == j else "normal",
                    )  # fmt: skip
        fig.colorbar(image, ax=ax, shrink=0.8)
        fig.tight_layout()
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def plot_rank_distance(result: LareqaResult, path: str | Path, model: str | None = None) -> Path:
    """Mean (bar) and median (dot) rank distance per query language, seen / unseen coloured.

    ``model``: named in the title."""
    plt = _pyplot()
    bias = language_bias(result)
    langs = list(bias)
    means = [bias[lang]["rank_distance"] for lang in langs]
    medians = [bias[lang]["rank_distance_median"] for lang in langs]
    seen = result.seen_languages
    colors = ["tab:blue" if seen is None or lang in seen else "tab:orange" for lang in langs]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 + 0.5 * len(langs)), 3.8))
    try:
        x = np.arange(len(langs))
        bars = ax.bar(x, means, color=colors, label="mean")
        (median,) = ax.plot(x, medians, "k.", label="median")
        ax.set_xticks(x, langs)
        ax.set_xlabel("query language")
        ax.set_ylabel("rank distance\n(max − min rank of the answers)", fontsize=9)
        who = f"{model}, " if model else ""
        ax.set_title(f"{who}{result.dataset}: language bias in the multilingual pool", fontsize=10)
        handles = [bars, median]
        if seen is not None:
            from matplotlib.patches import Patch

            handles = [
                Patch(color="tab:blue", label="seen (mean)"),
                Patch(color="tab:orange", label="unseen (mean)"),
                median,
            ]
        ax.legend(handles=handles, fontsize=8)
        fig.tight_layout()
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:  # type: ignore[no-untyped-def]
    """Write ``fig`` as a PNG atomically (a crash never leaves half a plot)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
