"""Score an evaluation with language centering, from the embeddings the plain score used.

One function for ``polyret eval --debias`` and the experiment runner: both encode the
evaluation texts once, score them as they are, and score them again centered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset
    from polyret.debias.calibration import Calibration
    from polyret.debias.debiaser import Debiaser
    from polyret.evaluation.lareqa import LareqaEmbeddings
    from polyret.evaluation.results import LareqaResult

__all__ = ["evaluate_with_debias"]


def evaluate_with_debias(
    model: Any,
    dataset: LareqaDataset,
    embeddings: LareqaEmbeddings,
    options: Any,
    calibration: Calibration,
    *,
    method: str = "center",
    queries: Calibration | None = None,
    debiaser: Debiaser | None = None,
    batch_size: int = 64,
) -> tuple[LareqaResult, Debiaser]:
    """``options.score`` of ``embeddings`` debiased, and the debiaser used.

    ``options``: the evaluation's options (``LareqaEvalConfig`` or ``NtrexEvalConfig``).
    ``debiaser``: reuse one already fitted with ``model`` (e.g. for a second dataset); otherwise
    it is fitted on ``calibration`` (and ``queries``) with ``model``. Calibration text that the
    NTREX-128 evaluation scores is refused (:func:`polyret.evaluation.ntrex.check_held_out`).
    """
    from polyret.debias.fit import fit_centering
    from polyret.evaluation.ntrex import DATASET_NAME, check_held_out

    if dataset.name == DATASET_NAME:
        check_held_out(calibration, dataset)
    if debiaser is None:
        debiaser = fit_centering(
            model, calibration, method=method, queries=queries, batch_size=batch_size
        )
    return options.score(dataset, debiaser.transform_lareqa(embeddings)), debiaser
