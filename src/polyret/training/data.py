"""What a training run consumes: the pairs and dev split, and how their columns are collated.

Pairs come from a LAReQA dataset (:mod:`polyret.pairs`), split by article into train and dev;
each column is a sentence-transformers task (``query`` or ``document``) with its own prompt
and max length.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyret.training.config import TrainConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from polyret.data.lareqa import LareqaDataset
    from polyret.pairs import PairSet

logger = logging.getLogger(__name__)

# Measured, not assumed: results/designs/ (MLQA-R dev split, one seed).
CROSS_NEGATIVES_WARNING = (
    "hard negatives with cross-only batches: every negative is in the query's language and no "
    "positive is, and in polyret's design screen this collapsed the multilingual pool (dev "
    "multilingual mAP 0.567 -> 0.373, results/designs/); hybrid or mixed batches gained from "
    "the same negatives"
)

# The sentence-transformers task of each training column (for its max length); hard-negative
# columns (negative_1, ...) are documents too.
COLUMN_TASKS = {"query": "query", "passage": "document"}


def column_task(column: str) -> str:
    """The task (prompt and max length) of a training column."""
    return COLUMN_TASKS.get(column, "document")


@dataclass
class TrainData:
    """What the trainer consumes: training pairs, and the dev split for evaluation."""

    train: PairSet
    dev: LareqaDataset | None
    summary: dict[str, Any] = field(default_factory=dict)


def load_training_data(config: TrainConfig) -> TrainData:
    """Load the QA set, hold out dev articles, build pairs (+ hard negatives, alignment rows
    when ``align_share`` > 0, NTREX pairs)."""
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.data.registry import data_root
    from polyret.data.splits import split_by_article
    from polyret.pairs import (
        add_hard_negatives,
        build_alignment_pairs,
        build_pairs,
        load_ntrex_pairs,
    )

    folder = resolve_lareqa_folder(config.dataset, config.data_dir)
    data = load_lareqa(folder, config.languages)
    split = split_by_article(
        data,
        dev_fraction=config.dev_fraction,
        seed=config.seed,
        exclude_titles=config.exclude_titles,
    )
    pairs = build_pairs(
        data,
        exclude_titles=config.exclude_titles,
        context=config.context,
        ids=split.train_ids,
    )
    summary: dict[str, Any] = {
        "dataset": str(folder),
        "languages": data.langs,
        "train_ids": len(split.train_ids),
        "dev_ids": len(split.dev_ids),
        "dev_articles": list(split.dev_articles),
        "excluded_ids": len(split.excluded_ids),
        "lareqa_pairs": len(pairs),
    }
    if config.hard_negatives:
        if config.sampler.strategy.value == "cross":
            logger.warning(CROSS_NEGATIVES_WARNING)
        pairs, dropped = add_hard_negatives(
            pairs, data, config.hard_negatives, config.negative_source, seed=config.seed
        )
        summary["hard_negatives"] = config.hard_negatives
        summary["pairs_without_negatives"] = dropped
    if config.sampler.align_share > 0:
        align, dropped = build_alignment_pairs(
            data,
            exclude_titles=config.exclude_titles,
            ids=split.train_ids,
            negatives=config.hard_negatives,
            seed=config.seed,
        )
        summary["alignment_pairs"] = len(align)
        if config.hard_negatives:
            summary["alignment_pairs_without_negatives"] = dropped
        pairs = pairs + align
    if config.ntrex_languages:
        ntrex = load_ntrex_pairs(data_root(config.data_dir), config.ntrex_languages)
        summary["ntrex_pairs"] = len(ntrex)
        pairs = pairs + ntrex
    dev = data.select_ids(split.dev_ids) if split.dev_ids else None
    summary["pairs"] = pairs.summary()
    summary["fingerprint"] = {
        # By dataset folder and file name: the same data at another path is the same data.
        "files": {f"{d.path.parent.name}/{d.path.name}": d.sha256 for d in data.languages.values()},
        "pairs": pairs.fingerprint(),
    }
    return TrainData(pairs, dev, summary)


def column_prompts(
    model: SentenceTransformer, columns: Sequence[str] = ("query", "passage")
) -> dict[str, str]:
    """Training prompts per column, taken from the model so training matches inference."""
    prompts = model.prompts or {}
    by_task = {
        "query": prompts.get("query"),
        "document": prompts.get("passage") or prompts.get("document"),
    }
    return {c: by_task[column_task(c)] for c in columns if by_task[column_task(c)]}


def make_collator(
    model: SentenceTransformer,
    config: TrainConfig,
    prompts: dict[str, str],
    columns: Sequence[str] = ("query", "passage"),
) -> Any:
    """sentence-transformers' collator, truncating queries and passages to their own max lengths.

    Its public per-task lengths: ``router_mapping`` names the task of each column and
    ``max_length`` the length of each task. A plain (picklable) collator, so dataloader
    workers can use it.
    """
    from sentence_transformers.sentence_transformer.data_collator import (
        SentenceTransformerDataCollator,
    )

    return SentenceTransformerDataCollator(
        preprocess_fn=model.preprocess,
        prompts=prompts,
        router_mapping={c: column_task(c) for c in columns},
        max_length={"query": config.max_query_length, "document": config.max_passage_length},
    )
