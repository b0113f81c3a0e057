"""Reports: Markdown tables and PNG plots of evaluation, corpus and experiment results.

``lareqa`` (``polyret eval`` on LAReQA and NTREX-128) and ``corpus`` (MIRACL, BEIR), sharing
``tables`` and ``plots``. The experiment report is the experiment's own
(:mod:`polyret.experiment.report`): it uses these, and nothing here imports ``experiment``.
"""

from __future__ import annotations

from polyret.reports.lareqa import headline_table, render_lareqa_report
from polyret.reports.tables import markdown_table

__all__ = ["headline_table", "markdown_table", "render_lareqa_report"]
