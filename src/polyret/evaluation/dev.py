"""Dev evaluation during training: polyret's LAReQA evaluator as a sentence-transformers one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset

logger = logging.getLogger(__name__)


class LareqaDevEvaluator(BaseEvaluator):
    """Dev evaluation during training with polyret's LAReQA evaluator (all settings).

    ``candidate_text``: how candidates are written, which should be how the run's passages are
    (``sentence+context`` for a run trained with ``context``, see
    ``polyret.training.trainer.dev_evaluator``), so that the dev scores measure the input the
    model is trained for."""

    def __init__(
        self,
        dataset: LareqaDataset,
        batch_size: int,
        name: str = "dev",
        precision: str | None = None,
        candidate_text: str = "sentence",
    ) -> None:
        from polyret.errors import parse_enum
        from polyret.evaluation.lareqa import CandidateText

        super().__init__()
        self.candidate_text = parse_enum(CandidateText, candidate_text, "candidate_text").value
        self.dataset = dataset
        self.batch_size = batch_size
        self.precision = precision  # encode at the training precision (None: as the model is)
        self.name = name
        self.primary_metric = f"{name}_multi_map"
        self.history: list[dict[str, Any]] = []

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa

        result = evaluate_lareqa(
            model,
            self.dataset,
            LareqaEvalConfig(
                batch_size=self.batch_size,
                show_progress=False,
                precision=self.precision,
                candidate_text=self.candidate_text,
            ),
        )
        summary = result.summary()
        keys = ("mono_map", "cross_map", "multi_map", "rank_distance", "same_lang_first")
        metrics = {f"{self.name}_{k}": float(summary[k]) for k in keys if k in summary}
        maps = [summary[k] for k in ("mono_map", "cross_map", "multi_map") if k in summary]
        if maps:  # one score for all three settings, what a run can keep its best checkpoint by
            metrics[f"{self.name}_mean_map"] = float(sum(maps) / len(maps))
        self.history.append({"epoch": epoch, "step": steps, **metrics})
        logger.info(
            "dev evaluation at step %s: %s", steps, {k: round(v, 4) for k, v in metrics.items()}
        )
        return metrics

    @property
    def description(self) -> str:
        return "polyret LAReQA dev evaluation"
