"""polyret's models in mteb: each keeps its own name, revision and scores (mteb is optional).

mteb keys its result cache by model name and revision. Unnamed local models all become
``no_model_name/available``, and the second one gets the first one's cached scores.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

mteb = pytest.importorskip("mteb")

from lareqa_fixture import write_parallel_lareqa  # noqa: E402
from polyret.models import load_model  # noqa: E402

QUERIES = {
    "q1": "Where is the capital of France?",
    "q2": "Wo ist die Hauptstadt von Frankreich?",
    "q3": "Which river flows through the city?",
    "q4": "Who was the king of the island?",
}
DOCUMENTS = {
    "d1": "Paris is the capital of France.",
    "d2": "Paris ist die Hauptstadt Frankreichs.",
    "d3": "The river Seine flows through Paris.",
    "d4": "The king lived on the island for many winters.",
    "d5": "The quick brown fox jumps over the lazy dog.",
    "d6": "Der Wald liegt hinter der Schule.",
}
RELEVANT = {"q1": {"d1": 1, "d2": 1}, "q2": {"d1": 1, "d2": 1}, "q3": {"d3": 1}, "q4": {"d4": 1}}


def tiny_task() -> Any:
    """A custom retrieval task held in memory: what a user's own task looks like."""
    from datasets import Dataset
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
    from mteb.abstasks.task_metadata import TaskMetadata

    class TinyRetrieval(AbsTaskRetrieval):
        metadata = TaskMetadata(
            name="PolyretTinyRetrieval",
            description="Four questions, six passages.",
            reference=None,
            dataset={"path": "local/polyret-tiny", "revision": "1"},
            type="Retrieval",
            category="t2t",
            modalities=["text"],
            eval_splits=["test"],
            eval_langs=["eng-Latn", "deu-Latn"],
            main_score="ndcg_at_10",
            date=None,
            domains=None,
            task_subtypes=None,
            license=None,
            annotations_creators=None,
            dialect=None,
            sample_creation=None,
            bibtex_citation=None,
        )

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            queries = [{"id": k, "text": v} for k, v in QUERIES.items()]
            corpus = [{"id": k, "text": v} for k, v in DOCUMENTS.items()]
            split = RetrievalSplitData(
                queries=Dataset.from_list(queries),
                corpus=Dataset.from_list(corpus),
                relevant_docs=RELEVANT,
                top_ranked=None,
            )
            self.dataset = {"default": {"test": split}}
            self.data_loaded = True

    return TinyRetrieval()


@pytest.fixture(scope="module")
def polyret_models(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> list[Path]:
    """Two trained models whose folders share a name (``run/final``) and a debiased one."""
    from polyret.debias import fit_centering, save_debiased_model
    from polyret.training.config import TrainConfig
    from polyret.training.trainer import train

    root = tmp_path_factory.mktemp("mteb")
    qa = write_parallel_lareqa(root / "qa", ("en", "de"), articles=6)
    finals = []
    for seed, lr in ((1, 1e-3), (2, 5e-3)):
        config = TrainConfig(
            model=str(tiny_model_dir),
            dataset=str(qa),
            output_dir=str(root / f"seed{seed}" / "run"),
            batch_size=4,
            max_steps=2,
            learning_rate=lr,
            warmup_ratio=0.0,
            dev_fraction=0.0,
            exclude_titles=[],
            seed=seed,
            device="cpu",
        )
        finals.append(train(config).final_model)
    base = load_model(finals[0], device="cpu")
    calibration = {
        "en": list(DOCUMENTS.values())[::2] * 4,
        "de": list(DOCUMENTS.values())[1::2] * 4,
    }
    centered = save_debiased_model(base, fit_centering(base, calibration), root / "centered")
    return [*finals, centered]


def _quiet_load(folder: Path) -> Any:
    """load_model, failing on any warning (the wrapper mteb builds included)."""
    from mteb.models import SentenceTransformerEncoderWrapper

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and "prompt" in record.getMessage().lower():
                records.append(record.getMessage())

    handler = Collect()
    logging.getLogger().addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load_model(folder, device="cpu")
            SentenceTransformerEncoderWrapper(model)
    finally:
        logging.getLogger().removeHandler(handler)
    assert not records, records
    assert not [str(w.message) for w in caught if "prompt" in str(w.message).lower()]
    return model


def test_polyret_models_keep_their_own_names_and_scores_in_mteb(
    polyret_models: list[Path], tmp_path: Path
) -> None:
    models = [_quiet_load(folder) for folder in polyret_models]
    names = [m.model_card_data.model_name for m in models]
    assert names == ["polyret/run", "polyret/run", "polyret/centered"]
    revisions = {m.model_card_data.base_model_revision for m in models}
    assert len(revisions) == 3  # the two runs share a name, not a revision

    task = tiny_task()
    own = [
        mteb.evaluate(m, task, cache=None, show_progress_bar=False).task_results[0].get_score()
        for m in models
    ]
    assert len(set(own)) > 1, own  # else a shared cache entry could not be told apart
    cache = mteb.ResultCache(cache_path=tmp_path / "mteb-cache")
    cached = []
    for model in models:  # one after the other, through the result cache
        result = mteb.evaluate(model, task, cache=cache, show_progress_bar=False)
        cached.append(result.task_results[0].get_score())
    assert cached == own
    saved = sorted(p.relative_to(tmp_path / "mteb-cache" / "results").parts[:2] for p in
                   (tmp_path / "mteb-cache" / "results").rglob("PolyretTinyRetrieval.json"))  # fmt: skip
    assert [name for name, _ in saved] == ["polyret__centered", "polyret__run", "polyret__run"]


def test_plain_sentence_transformers_models_are_named_as_the_readme_says(
    polyret_models: list[Path],
) -> None:
    import json

    from mteb.models import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    metas = []
    for folder in polyret_models[:2]:  # the trained ones (the centered one needs polyret)
        model = SentenceTransformer(str(folder), device="cpu")
        # sentence-transformers restores no name from a local folder (README, polyret models in
        # mteb): mteb, which reads it from the card data, has none.
        unnamed = SentenceTransformerEncoderWrapper(model).mteb_model_meta
        assert unnamed.name == "no_model_name/available"
        # The README's recipe for plain sentence-transformers.
        identity = json.loads((folder / "polyret_model.json").read_text())
        model.model_card_data.model_name = identity["name"]
        model.model_card_data.base_model_revision = identity["revision"]
        metas.append(SentenceTransformerEncoderWrapper(model).mteb_model_meta)
    assert [m.name for m in metas] == ["polyret/run", "polyret/run"]
    assert len({m.revision for m in metas}) == 2  # the two runs share a name, not a revision
