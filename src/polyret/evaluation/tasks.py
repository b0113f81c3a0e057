"""Evaluation tasks, in the spirit of mteb's: a dataset with the options that encode and score it,
behind one interface, so that one path (:func:`polyret.evaluate.evaluate`) serves ``polyret eval``
and the experiment runner alike.

- :class:`LareqaTask`: XQuAD-R, MLQA-R or any folder of LAReQA files, scored in every
  monolingual, cross-lingual and multilingual setting.
- :class:`NtrexTask`: sentence retrieval on NTREX-128's evaluation part (out of domain).

MIRACL and BEIR corpora, too large for one embedding matrix, are searched in encoded shards by
:class:`polyret.corpus.CorpusTask`, which has the same methods (:class:`polyret.evaluate.Task`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from polyret.evaluation.lareqa import LareqaEmbeddings, LareqaEvalConfig
from polyret.evaluation.ntrex import NtrexEvalConfig

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset
    from polyret.evaluation.results import LareqaResult

__all__ = ["EvalTask", "LareqaTask", "NtrexTask"]


class TaskOptions(Protocol):
    """How a task's texts are encoded and scored (:class:`LareqaEvalConfig`,
    :class:`NtrexEvalConfig`)."""

    def encode(self, model: Any, dataset: LareqaDataset) -> LareqaEmbeddings: ...

    def score(self, dataset: LareqaDataset, embeddings: LareqaEmbeddings) -> LareqaResult: ...


@dataclass
class EvalTask(ABC):
    """A dataset and the options that encode and score it; the texts are encoded once and
    scored as often as needed (plain, then debiased)."""

    dataset: LareqaDataset
    options: TaskOptions

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def languages(self) -> list[str]:
        return list(self.dataset.langs)

    def calibration_languages(self) -> list[str]:
        """The languages centering needs text for: the evaluated ones."""
        return self.languages

    def encode(self, model: Any) -> LareqaEmbeddings:
        """Every unique text of the dataset, as a query and as a candidate."""
        return self.options.encode(model, self.dataset)

    def debias(self, embeddings: LareqaEmbeddings, debiaser: Any) -> LareqaEmbeddings:
        """Queries and candidates through ``debiaser`` (:class:`polyret.debias.Debiaser`)."""
        return debiaser.transform_lareqa(embeddings)

    def score(self, embeddings: LareqaEmbeddings) -> LareqaResult:
        """Every setting scored from ``embeddings`` (this task's encoding or a debiased copy)."""
        return self.options.score(self.dataset, embeddings)

    def protocol(self) -> dict[str, str] | None:
        """What results.json records as the evaluation protocol (None: LAReQA's, the default)."""
        return None

    @abstractmethod
    def check_calibration(self, calibration: Any) -> None:
        """Refuse calibration text (for centering) that this task must not be fitted on."""

    def describe(self) -> dict[str, Any]:
        """results.json's record of the data evaluated: folder, languages, files and checksums."""
        data = self.dataset
        return {
            "name": data.name,
            "folder": str(data.root),
            "languages": data.langs,
            "files": {
                lang: {
                    "path": str(d.path),
                    "sha256": d.sha256,
                    "questions": len(d.questions),
                    "candidates": len(d.candidates),
                }
                for lang, d in data.languages.items()
            },
        }


@dataclass
class LareqaTask(EvalTask):
    """XQuAD-R, MLQA-R or a folder of LAReQA ``<lang>.json`` files."""

    options: LareqaEvalConfig = field(default_factory=LareqaEvalConfig)

    def check_calibration(self, calibration: Any) -> None:
        """Any calibration text goes: LAReQA questions are never calibration sentences."""


@dataclass
class NtrexTask(EvalTask):
    """NTREX-128's evaluation part: each sentence retrieves its translations."""

    options: NtrexEvalConfig = field(default_factory=NtrexEvalConfig)

    def protocol(self) -> dict[str, str]:
        from polyret.evaluation.ntrex import PROTOCOL

        return PROTOCOL

    def check_calibration(self, calibration: Any) -> None:
        """Refuse calibration sentences that this evaluation scores."""
        from polyret.evaluation.ntrex import check_held_out

        check_held_out(calibration, self.dataset)

    def describe(self) -> dict[str, Any]:
        from polyret.data.ntrex import SPLIT_RULE

        documents = self.dataset.question_articles()
        return {
            **super().describe(),
            "part": "evaluation",
            "split_rule": SPLIT_RULE,
            "documents": len(set(documents.values())),
            # the clusters of significance tests (polyret.evaluation.significance)
            "question_documents": documents,
        }
