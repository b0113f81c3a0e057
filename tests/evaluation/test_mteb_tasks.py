"""polyret's pooled setting as an mteb task: mteb's own runner gives polyret's numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

mteb = pytest.importorskip("mteb")

from lareqa_fixture import write_parallel_lareqa  # noqa: E402
from polyret.data.lareqa import load_lareqa  # noqa: E402
from polyret.evaluation.bias import language_bias  # noqa: E402
from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa  # noqa: E402
from polyret.evaluation.mteb_tasks import pooled_corpus, pooled_task  # noqa: E402
from polyret.models import load_model  # noqa: E402

BIAS = ("rank_distance", "same_lang_first", "own_lang_top10")


def _subset_scores(result: Any) -> dict[str, dict[str, float]]:
    """hf_subset (the query language) -> its scores, from one task's mteb result."""
    (task_result,) = result.task_results
    return {s["hf_subset"]: s for s in task_result.scores["test"]}


def _check_against_polyret(model: Any, task: Any, lareqa: Any, tmp_path: Path) -> float:
    """Score ``task`` with mteb (the corpus encoded once, through mteb's embedding cache) and
    polyret; assert they agree. Returns mteb's mean multilingual mAP."""
    wrapped = mteb.models.SentenceTransformerEncoderWrapper(model)
    cached = mteb.models.CachedEmbeddingWrapper(wrapped, tmp_path / "embeddings")
    result = mteb.evaluate(cached, task, cache=None, show_progress_bar=False)
    own = evaluate_lareqa(model, lareqa, LareqaEvalConfig(show_progress=False))
    subsets = _subset_scores(result)
    assert sorted(subsets) == lareqa.langs
    main = task.metadata.main_score
    assert main == f"map_at_{lareqa.n_candidates}"  # full depth: every candidate ranked
    for setting in own.of_kind("multi"):
        # mteb rounds its scores to 5 decimals; embeddings differ by padding only
        assert subsets[setting.query_lang][main] == pytest.approx(setting.mean()["map"], abs=1e-4)
    score = result.task_results[0].get_score()
    assert score == pytest.approx(own.summary()["multi_map"], abs=1e-4)
    for lang, bias in language_bias(own).items():
        for key in BIAS:
            assert subsets[lang][key] == pytest.approx(bias[key], rel=1e-3), (lang, key)
    return score


def test_pooled_corpus_holds_every_language_and_each_answer_everywhere(tmp_path: Path) -> None:
    data = load_lareqa(write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=3))
    corpus, queries, qrels = pooled_corpus(data)
    assert len(corpus) == data.n_candidates
    assert {doc.split("-", 1)[0] for doc in corpus} == {"en", "de", "es"}
    assert sorted(queries) == ["de", "en", "es"]
    for x, lang_qrels in qrels.items():
        assert len(lang_qrels) == len(data.languages[x].questions)
        for query, relevant in lang_qrels.items():
            qid = query.split("-", 1)[1]
            assert sorted(doc.split("-", 1)[0] for doc in relevant) == data.languages_of(qid)
            for doc in relevant:
                lang = doc.split("-", 1)[0]
                answer = data.answer_candidate(qid, lang)
                assert answer is not None and corpus[doc] == answer.text


def test_mteb_scores_the_pool_as_polyret_does(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=6)
    model = load_model(tiny_model_dir, device="cpu")
    _check_against_polyret(model, pooled_task(folder), load_lareqa(folder), tmp_path)


def test_task_name_and_revision_name_the_selection(tmp_path: Path) -> None:
    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=6)
    full, quick = pooled_task(folder), pooled_task(folder, articles=2)
    two = pooled_task(folder, languages=["de", "en"])
    assert full.metadata.name != quick.metadata.name  # mteb's result cache keys by name
    revisions = {t.metadata.dataset["revision"] for t in (full, quick, two)}
    assert len(revisions) == 3
    assert full.metadata.eval_langs["de"][0] == "deu-Latn"  # the query language first
    assert sorted(full.metadata.eval_langs) == ["de", "en", "es"]
    quick.load_data()
    assert len(quick.dataset["en"]["test"]["queries"]) < len(
        load_lareqa(folder).languages["en"].questions
    )


def test_query_languages_score_fewer_subsets_against_the_whole_pool(tmp_path: Path) -> None:
    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=3)
    task = pooled_task(folder, query_languages=["en"])
    task.load_data()
    assert list(task.dataset) == ["en"]
    assert len(task.dataset["en"]["test"]["corpus"]) == load_lareqa(folder).n_candidates
    assert task.metadata.name == pooled_task(folder).metadata.name  # one task, fewer subsets
    with pytest.raises(ValueError, match="must be among de, en, es"):
        pooled_task(folder, query_languages=["fr"])


def test_a_language_without_an_mteb_code_is_named(tmp_path: Path) -> None:
    folder = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=2)
    (folder / "de.json").rename(folder / "fr.json")  # French: not a LAReQA language
    with pytest.raises(ValueError, match="no mteb language code for fr"):
        pooled_task(folder)


@pytest.mark.integration
def test_bundled_model_on_pooled_xquad_r(
    shared_data: Path, bundled_model_dir: Path, tmp_path: Path
) -> None:
    """The bundled model through mteb on XQuAD-R's pool (all 11 languages, 2 articles)."""
    folder = shared_data / "lareqa" / "xquad-r"
    model = load_model(bundled_model_dir, device="cpu")
    task = pooled_task(folder, articles=2)
    lareqa = load_lareqa(folder).select_articles(2)
    score = _check_against_polyret(model, task, lareqa, tmp_path)
    assert 0.2 < score < 1.0
