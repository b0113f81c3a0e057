"""Reports: Markdown tables and PNG plots of evaluation results."""

from __future__ import annotations

from polyret.reports.lareqa import headline_table, markdown_table, render_lareqa_report

__all__ = ["headline_table", "markdown_table", "render_lareqa_report"]
