"""polyret's pooled multilingual setting as mteb retrieval tasks (needs ``polyret[mteb]``).

mteb's ``XQuADRetrieval`` scores one language at a time; it has no pooled multilingual task
and no language-bias measure. :func:`pooled_task` builds one from an XQuAD-R or MLQA-R folder:
every language's candidates in one corpus, one hf_subset per query language (its questions
against the whole pool), so mteb's mean over subsets is polyret's multilingual mAP, a macro
mean over query languages. Any model mteb can run is then scored with mteb's own runner::

    import mteb
    from polyret.evaluation.mteb_tasks import pooled_task

    result = mteb.evaluate(model, pooled_task("xquad-r"))

The task ranks the whole pool (``k_values`` ends at the pool size), so ``map_at_<pool size>``
(the main score) is full-depth average precision, as polyret computes it, and not mAP cut at
1000. pytrec_eval and polyret break score ties the same way (docno descending), and the
corpus ids are polyret's docnos. The language-bias measures come with every subset's scores:
``rank_distance``, ``same_lang_first`` (with ``same_lang_first_chance``), ``own_lang_top10``,
computed from mteb's own ranking by polyret's definitions (:mod:`polyret.evaluation.bias`).

Cost: mteb encodes the corpus again for every subset (11 times for XQuAD-R) unless the model
is wrapped in ``mteb.models.CachedEmbeddingWrapper``, and keeps every query's full ranking as
Python objects (the full XQuAD-R pool: 433 s on 2 cores with the cache, polyret's own evaluator
261 s). ``articles`` gives a smaller pool, ``query_languages`` fewer subsets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyret.data.lareqa import LareqaDataset, load_lareqa
from polyret.errors import parse_enum
from polyret.evaluation.bias import setting_bias
from polyret.evaluation.lareqa import CandidateText, candidate_docnos, candidate_texts
from polyret.evaluation.results import MULTI, SettingResult

__all__ = ["MTEB_LANGUAGES", "pooled_corpus", "pooled_task"]

# mteb's language codes (ISO 639-3 and script, BCP 47 style) for the LAReQA languages; the
# ones mteb's own XQuAD and MLQA tasks use.
MTEB_LANGUAGES: dict[str, str] = {
    "ar": "arb-Arab", "de": "deu-Latn", "el": "ell-Grek", "en": "eng-Latn", "es": "spa-Latn",
    "hi": "hin-Deva", "ru": "rus-Cyrl", "th": "tha-Thai", "tr": "tur-Latn", "vi": "vie-Latn",
    "zh": "zho-Hans",
}  # fmt: skip
LICENSES = {"xquad-r": "cc-by-sa-4.0", "mlqa-r": "cc-by-nc-4.0"}  # ../shared/data/README.md
BIAS_TOP_K = 10  # depth of own_lang_top10, as polyret's evaluation reports it


def pooled_corpus(
    dataset: LareqaDataset, candidate_text: str | CandidateText = CandidateText.SENTENCE
) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, dict[str, int]]]]:
    """The pool as mteb reads it: corpus ``{docno: text}``; per query language, queries
    ``{"<lang>-<id>": text}`` and qrels ``{query: {docno of its answer in each language: 1}}``."""
    docnos = candidate_docnos(dataset)
    corpus: dict[str, str] = {}
    for lang, data in dataset.languages.items():
        corpus.update(
            zip(docnos[lang], candidate_texts(data.candidates, candidate_text), strict=True)
        )
    queries: dict[str, dict[str, str]] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for x, data in dataset.languages.items():
        queries[x], qrels[x] = {}, {}
        for q in data.questions:
            key = f"{x}-{q.id}"
            queries[x][key] = q.text
            qrels[x][key] = {
                docnos[y][dataset.languages[y].question(q.id).answer]: 1  # type: ignore[union-attr]
                for y in dataset.languages_of(q.id)
            }
    return corpus, queries, qrels


def _bias_scores(
    query_lang: str,
    langs: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    results: Mapping[str, Mapping[str, float]],
    pool_size: int,
) -> dict[str, float]:
    """polyret's language-bias measures of one query language from mteb's rankings.

    Ranks follow pytrec_eval: score descending, then docno descending. A docno starts with
    its language code (``<lang>-a...``), which gives each relevant candidate's slot.
    """
    slot = {lang: j for j, lang in enumerate(langs)}
    ids = sorted(results)
    ranks = np.zeros((len(ids), len(langs)), dtype=np.int64)
    own_top = np.zeros(len(ids), dtype=np.float64)
    for i, qid in enumerate(ids):
        ranked = sorted(results[qid].items(), key=lambda item: (item[1], item[0]), reverse=True)
        position = {doc: r for r, (doc, _) in enumerate(ranked, start=1)}
        for doc, grade in qrels[qid].items():
            if grade > 0 and doc in position:
                ranks[i, slot[doc.split("-", 1)[0]]] = position[doc]
        top = [doc for doc, _ in ranked[:BIAS_TOP_K]]
        own_top[i] = sum(doc.split("-", 1)[0] == query_lang for doc in top) / max(len(top), 1)
    setting = SettingResult(
        query_lang, MULTI, ids, pool_size, ranks, list(langs),
        own_top=own_top, top_k=BIAS_TOP_K,
    )  # fmt: skip
    bias = setting_bias(setting)
    keep = ("rank_distance", "same_lang_first", "same_lang_first_chance", "own_lang_top10")
    return {key: bias[key] for key in keep if key in bias}


def _identity(
    data: LareqaDataset, articles: int | None, candidate_text: str | CandidateText
) -> tuple[str, str]:
    """The task's name and dataset revision: the dataset, the selection and the files' hashes."""
    stem = "".join(part.capitalize() for part in data.name.replace("_", "-").split("-"))
    name = f"Polyret{stem}Pooled" + (f"{articles}Articles" if articles is not None else "")
    digest = hashlib.sha256()
    for lang, sha in sorted(data.sha256s.items()):
        digest.update(f"{lang}:{sha}\n".encode())
    text = parse_enum(CandidateText, candidate_text, "candidate_text").value
    digest.update(f"articles={articles} text={text}".encode())
    return name, digest.hexdigest()[:16]


def pooled_task(
    dataset: str | Path = "xquad-r",
    *,
    languages: Sequence[str] | None = None,
    articles: int | None = None,
    query_languages: Sequence[str] | None = None,
    candidate_text: str | CandidateText = CandidateText.SENTENCE,
    data_dir: str | Path | None = None,
) -> Any:
    """An mteb retrieval task (an ``AbsTaskRetrieval`` instance) holding the pooled setting.

    ``dataset``: "xquad-r", "mlqa-r" or a LAReQA folder; ``languages``: a subset (default:
    every file); ``articles``: only the questions of N evenly spaced articles and their
    paragraphs' candidates, as ``polyret eval --articles``; ``query_languages``: score only
    these languages' questions (mteb subsets; the same task with fewer subsets, as mteb's own
    ``hf_subsets`` selection), still against the whole pool. The task's name and dataset
    revision name the selection and the files' hashes, so mteb's result cache keeps a quick
    pool apart from the full one.
    """
    try:
        from datasets import Dataset
        from mteb.abstasks.retrieval import AbsTaskRetrieval
        from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
    except ImportError as err:
        raise ImportError("pooled mteb tasks need mteb: pip install 'polyret[mteb]'") from err

    data = load_lareqa(dataset, languages, data_dir=data_dir)
    if articles is not None:
        data = data.select_articles(articles)
    unknown = [lang for lang in data.langs if lang not in MTEB_LANGUAGES]
    if unknown:
        raise ValueError(f"no mteb language code for {', '.join(unknown)} ({data.root})")
    corpus, queries, qrels = pooled_corpus(data, candidate_text)
    langs = data.langs
    subsets = sorted(set(query_languages)) if query_languages is not None else langs
    if not subsets or not set(subsets) <= set(langs):
        raise ValueError(f"query_languages {query_languages} must be among {', '.join(langs)}")
    pool_size = len(corpus)
    name, revision = _identity(data, articles, candidate_text)
    codes = [MTEB_LANGUAGES[lang] for lang in langs]
    # per subset (query language): its own code first, then the pool's other languages
    eval_langs = {
        x: [MTEB_LANGUAGES[x], *(c for c in codes if c != MTEB_LANGUAGES[x])] for x in subsets
    }

    class PooledRetrieval(AbsTaskRetrieval):
        metadata = _metadata(data, name, revision, eval_langs, pool_size)
        # Rank the whole pool: full-depth AP, and every relevant candidate's rank for the bias.
        k_values = tuple(sorted({1, 5, 10, 100, pool_size}))

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            pool = Dataset.from_list([{"id": k, "text": v} for k, v in corpus.items()])
            self.dataset = {
                x: {
                    "test": RetrievalSplitData(
                        queries=Dataset.from_list(
                            [{"id": k, "text": v} for k, v in queries[x].items()]
                        ),
                        corpus=pool,
                        relevant_docs=qrels[x],
                        top_ranked=None,
                    )
                }
                for x in subsets
            }
            self.data_loaded = True

        def task_specific_scores(
            self,
            scores: dict[str, dict[str, float]],
            qrels: Any,
            results: dict[str, dict[str, float]],
            hf_split: str,
            hf_subset: str,
        ) -> dict[str, float]:
            return _bias_scores(hf_subset, langs, qrels, results, pool_size)

    return PooledRetrieval()


def _metadata(
    data: LareqaDataset, name: str, revision: str, eval_langs: dict[str, list[str]], pool_size: int
) -> Any:
    """The pooled task's mteb ``TaskMetadata``: its name, languages and main score."""
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(
        name=name,
        description=(
            f"{data.name} pooled: each query language's questions against every "
            f"language's candidates in one corpus ({pool_size} candidates, "
            f"{', '.join(data.langs)}); relevant: the answer sentence in every language "
            "that holds the question (polyret's multilingual setting)."
        ),
        reference="https://arxiv.org/abs/2004.05484",
        dataset={"path": f"polyret/{data.name}-pooled", "revision": revision},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs,
        main_score=f"map_at_{pool_size}",
        date=None,
        domains=["Encyclopaedic", "Written"],
        task_subtypes=["Question answering"],
        license=LICENSES.get(data.name, "not specified"),
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="found",
        bibtex_citation=None,
    )
