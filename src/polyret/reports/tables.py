"""Markdown table helpers shared by every report (evaluation, corpus, experiment)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["fmt_number", "fmt_percent", "markdown_table"]


def fmt_percent(value: float | None) -> str:
    """``0.123`` -> ``12.3``; ``–`` for a missing value."""
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def fmt_number(value: float | None, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals; ``–`` for a missing value."""
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
) -> str:
    """A GitHub Markdown table; ``align``: one of 'l'/'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
