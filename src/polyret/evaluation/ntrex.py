"""Out-of-domain sentence retrieval on NTREX-128's evaluation part (news, not Wikipedia QA).

NTREX-128 is bitext: line ``i`` of every language file is a translation of line ``i`` of the
others. Only the evaluation part is read (:mod:`polyret.data.ntrex`: 62 documents, 1,052
sentences per language), so nothing scored here was seen by centering calibration or NTREX
training pairs. Every sentence is both a query and a candidate. LAReQA's settings where they
make sense for bitext (:data:`PROTOCOL`):

* cross-lingual X->Y (X != Y): a sentence in X against every sentence of Y; relevant: its
  translation. Monolingual X->X is left out: the query would find itself.
* multilingual X->all: a sentence in X against the sentences of every language, the query
  itself removed; relevant: its translations; the other sentences of X stay in as
  same-language distractors.

Metrics: mAP, MRR@10 and accuracy@1 (and nDCG@10, Recall@k), and the language-bias measures of
the pooled setting (rank distance, same-language-first, own-language share of the top 10),
with same-language-first redefined for a pool without an own-language answer (:data:`PROTOCOL`).

The evaluation part is held as a :class:`~polyret.data.lareqa.LareqaDataset` (each sentence a
question ``ntrex:<line>`` and a candidate, documents as articles), so the LAReQA encoder,
debiasers, results, reports and ``polyret.evaluation.store`` serve it unchanged, and
``dataset.question_articles()`` maps each question id to its document: the clusters of
:func:`polyret.evaluation.significance.compare_results`.

Typical use (the experiment runner's shape: encode once, score plain and centered)::

    dataset = load_ntrex_eval(["de", "en", "zh"])
    config = NtrexEvalConfig()
    embeddings = config.encode(model, dataset)
    base = score_ntrex(dataset, embeddings, config=config)
    check_held_out(calibration, dataset)
    centered = score_ntrex(dataset, embeddings, config=config,
                           debiaser=fit_centering(model, calibration))
    save_result(centered, folder, meta)       # polyret.evaluation.store
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from polyret.data.lareqa import (
    XQUAD_R_LANGUAGES,
    Candidate,
    LareqaDataset,
    LareqaLanguage,
    Question,
)
from polyret.data.ntrex import NTREX_SOURCE, SPLIT_RULE, NtrexPart, NtrexText, load_ntrex
from polyret.errors import ConfigError
from polyret.evaluation.lareqa import (
    TIE_RULE,
    CandidateText,
    LareqaEmbeddings,
    ScoringOptions,
    _build_pool,
    _check_embeddings,
    _check_scoring_options,
    _rank_queries,
    encode_lareqa,
)
from polyret.evaluation.results import MULTI, LareqaResult, SettingResult
from polyret.io import sha256_file


class EmbeddingDebiaser(Protocol):
    """What scoring needs of a debiaser (:class:`polyret.debias.Debiaser` is one); evaluation
    sits below ``debias`` and names no class of it."""

    def transform_lareqa(self, embeddings: LareqaEmbeddings) -> LareqaEmbeddings: ...


class CalibrationText(Protocol):
    """What :func:`check_held_out` reads of calibration text (:class:`polyret.debias.Calibration`)."""

    source: str | None
    texts: Mapping[str, Sequence[str]]


__all__ = [
    "DATASET_NAME",
    "DEFAULT_LANGUAGES",
    "PROTOCOL",
    "NtrexEvalConfig",
    "check_held_out",
    "evaluate_ntrex",
    "evaluate_ntrex_embeddings",
    "load_ntrex_eval",
    "ntrex_dataset",
    "score_ntrex",
]

DATASET_NAME = "ntrex-128"
DEFAULT_LANGUAGES: tuple[str, ...] = XQUAD_R_LANGUAGES

PROTOCOL: dict[str, str] = {
    "title": "NTREX-128 sentence retrieval (evaluation part)",
    "data": (
        f"NTREX-128's evaluation part, split {SPLIT_RULE}; every sentence is a query (with the "
        "query prompt) and a candidate (with the passage prompt), each unique text encoded once"
    ),
    "settings": (
        "cross-lingual X→Y: a sentence in X against every sentence of Y, relevant: its "
        "translation; multilingual X→all: a sentence in X against the sentences of every "
        "language, the query itself removed, relevant: its translations, the other sentences "
        "of X left in as same-language distractors; no monolingual setting (a sentence would "
        "find itself)"
    ),
    "pool": (
        "every sentence of every language, the query itself removed; relevant: its "
        "translations in the other languages (none in the query language)"
    ),
    "bias": (
        "Rank distance = max − min rank of a query's translations (its floor is the number of "
        "translations − 1); same-lang-first = share of queries for which another sentence of "
        "the query language ranks before every translation, next to its chance level "
        "(n_X − 1) / (n_X − 1 + translations) under a random ranking; own-lang share = share of "
        "the top-10 in the query language (chance (n_X − 1) / (pool − 1)); own rank: none (the "
        "query's own-language copy is the query itself, removed); other rank = mean rank of "
        "the translations"
    ),
    "clusters": (
        "question id -> document id (the sentences of one document are not independent): the "
        "clusters of the significance tests"
    ),
}

NTREX_TIE_RULE = (
    f"{TIE_RULE} For NTREX-128, article = the document's position among the evaluation part's "
    "documents in file order, paragraph = 0, sentence = the sentence's position in its document."
)


def ntrex_dataset(text: NtrexText) -> LareqaDataset:
    """``text`` as LAReQA records: every non-empty sentence is a question with id
    ``ntrex:<line>`` (1-based line of the files, as in NTREX training pair groups) whose answer
    is itself, and a candidate; article = document (title: its id), context = the document.

    A line empty in one language is neither a question nor a candidate there, so the other
    languages' queries of that line have no relevant candidate in it. Equal sentences stay
    distinct candidates, as in LAReQA, and tie exactly (staged evaluation part: lines 424 and
    427 are one sentence in ar, de, el, es, hi and ru).
    """
    if text.part is not NtrexPart.EVALUATION:
        raise ConfigError(
            f"NTREX evaluation reads the evaluation part, not the {text.part.value} part"
        )
    article = {doc: i for i, doc in enumerate(text.document_ids)}
    positions = text.by_document()
    position_in_doc = {i: k for rows in positions.values() for k, i in enumerate(rows)}
    languages: dict[str, LareqaLanguage] = {}
    for lang, sentences in text.texts.items():
        context = {
            doc: " ".join(sentences[i] for i in rows if sentences[i])
            for doc, rows in positions.items()
        }
        questions: list[Question] = []
        candidates: list[Candidate] = []
        for i, (line, doc, sentence) in enumerate(
            zip(text.lines, text.documents, sentences, strict=True)
        ):
            if not sentence:
                continue
            a = article[doc]
            index = len(candidates)
            candidates.append(
                Candidate(lang, index, a, 0, position_in_doc[i], doc, sentence, context[doc])
            )
            questions.append(Question(f"ntrex:{line + 1}", lang, sentence, index, a, 0, doc))
        path = text.files[lang]
        languages[lang] = LareqaLanguage(lang, path, sha256_file(path), questions, candidates)
    return LareqaDataset(DATASET_NAME, text.folder, languages)


def load_ntrex_eval(
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> LareqaDataset:
    """NTREX-128's evaluation part in ``languages`` (ISO 639-1 or NTREX codes), as LAReQA records.

    The folder is found like every dataset (``data_dir``, ``$POLYRET_DATA``, the cache).
    """
    from polyret.data.registry import locate_dataset

    langs = list(dict.fromkeys(languages))
    if len(langs) < 2:
        raise ConfigError(f"NTREX-128 retrieval needs at least 2 languages, got {langs}")
    folder = locate_dataset(DATASET_NAME, data_dir)
    return ntrex_dataset(load_ntrex(folder, langs, part=NtrexPart.EVALUATION))


def check_held_out(
    calibration: CalibrationText | Mapping[str, Sequence[str]], dataset: LareqaDataset
) -> None:
    """Refuse calibration text that holds a sentence evaluated in ``dataset`` (same language).

    Text from ``load_calibration("ntrex")`` is the calibration part, disjoint from the
    evaluation part by document, and is not checked line by line (a few languages repeat a
    translation across documents). A folder of ``<lang>.txt`` (e.g. a copy of NTREX lines) is.
    """
    source = getattr(calibration, "source", None)
    if source == NTREX_SOURCE:
        return
    texts = getattr(calibration, "texts", calibration)
    for lang, lines in texts.items():
        if lang not in dataset.languages:
            continue
        evaluated = {c.text for c in dataset.languages[lang].candidates}
        shared = [t for t in dict.fromkeys(lines) if t in evaluated]
        if shared:
            where = getattr(calibration, "files", {}).get(lang) or source or "the calibration text"
            raise ConfigError(
                f"{where}: {len(shared)} calibration sentences of language {lang!r} are evaluated "
                f"NTREX-128 sentences (e.g. {shared[0][:60]!r}); calibrate on text that is not "
                f"evaluated, e.g. --calibration ntrex (its calibration part)"
            )


def evaluate_ntrex_embeddings(
    dataset: LareqaDataset,
    embeddings: LareqaEmbeddings,
    *,
    seen_languages: Sequence[str] | None = None,
    ks: Sequence[int] = (1, 10),
    ndcg_k: int = 10,
    mrr_k: int = 10,
    chunk_size: int = 512,
    top_k: int = 10,
) -> LareqaResult:
    """Score the cross-lingual and multilingual settings of :func:`ntrex_dataset` records.

    Chunks of ``chunk_size`` queries are scored once against the pool of every language; the
    query itself scores -inf there (removed). Every setting has ``mrr@<mrr_k>`` and
    ``accuracy@1`` next to the LAReQA metrics; the multilingual settings carry the bitext
    same-language-first (:data:`PROTOCOL`) as measured bias values.
    """
    _check_scoring_options(ks, ndcg_k, chunk_size)
    if mrr_k < 1:
        raise ConfigError(f"mrr_k must be >= 1, got {mrr_k}")
    if len(dataset.langs) < 2:
        raise ConfigError(f"NTREX-128 retrieval needs at least 2 languages, got {dataset.langs}")
    _check_embeddings(dataset, embeddings)
    ks = tuple(int(k) for k in ks)
    extra = (f"mrr@{mrr_k}", "accuracy@1")
    start = time.perf_counter()
    pool, relevant = _build_pool(dataset, embeddings)
    langs = pool.langs
    settings: dict[str, SettingResult] = {}
    multi: dict[str, SettingResult] = {}
    for xi, x in enumerate(langs):
        rel = relevant[x].copy()
        itself = rel[:, xi].copy()  # every question is its own language's answer: the query
        rel[:, xi] = -1
        ranked = _rank_queries(pool, embeddings.queries[x], rel, xi, chunk_size, top_k, itself)
        ids = [q.id for q in dataset.languages[x].questions]
        for yi, y in enumerate(langs):
            rows = np.flatnonzero(ranked.in_block[:, yi] > 0)
            if yi == xi or len(rows) == 0:
                continue
            settings[f"{x}->{y}"] = SettingResult(
                x, y, [ids[i] for i in rows], len(dataset.languages[y].candidates),
                ranked.in_block[rows, yi : yi + 1], [y],
                ks=ks, ndcg_k=ndcg_k, extra_metrics=extra,
            )  # fmt: skip
        n_rel = (rel >= 0).sum(axis=1)
        others = len(dataset.languages[x].candidates) - 1  # same-language distractors
        multi[f"{x}->{MULTI}"] = SettingResult(
            x, MULTI, ids, pool.size - 1, ranked.in_pool, list(langs),
            ks=ks, ndcg_k=ndcg_k, own_top=ranked.own_top, top_k=top_k, extra_metrics=extra,
            bias_values={
                "same_lang_first": ((ranked.own_before > 0) & (n_rel > 0)).astype(np.float64),
                "same_lang_first_chance": others / np.maximum(others + n_rel, 1),
            },
        )  # fmt: skip
    return LareqaResult(
        dataset=dataset.name,
        languages=list(langs),
        settings={**settings, **multi},
        seen_languages=None if seen_languages is None else sorted(set(seen_languages)),
        tie_rule=NTREX_TIE_RULE,
        candidate_text=embeddings.candidate_text,
        timings={"encode": embeddings.encode_seconds, "score": time.perf_counter() - start},
    )


@dataclass
class NtrexEvalConfig(ScoringOptions):
    """Options of the NTREX-128 evaluation (and those of :class:`ScoringOptions`); ``encode`` /
    ``score`` as :class:`LareqaEvalConfig`'s."""

    candidate_text: ClassVar[str] = CandidateText.SENTENCE.value  # sentences, without context
    ks: tuple[int, ...] = (1, 10)
    mrr_k: int = 10
    top_k: int = 10

    def encode(self, model: Any, dataset: LareqaDataset) -> LareqaEmbeddings:
        """Each unique sentence once with the query prompt and once with the passage prompt."""
        return encode_lareqa(
            model, dataset, batch_size=self.batch_size, show_progress=self.show_progress
        )

    def score(self, dataset: LareqaDataset, embeddings: LareqaEmbeddings) -> LareqaResult:
        """:func:`evaluate_ntrex_embeddings` with these options."""
        return evaluate_ntrex_embeddings(
            dataset, embeddings, **self.scoring(), mrr_k=self.mrr_k, top_k=self.top_k
        )


def score_ntrex(
    dataset: LareqaDataset,
    embeddings: LareqaEmbeddings,
    *,
    config: NtrexEvalConfig | None = None,
    debiaser: EmbeddingDebiaser | None = None,
) -> LareqaResult:
    """Score precomputed embeddings of ``dataset`` as they are, or debiased by ``debiaser``
    (e.g. :func:`polyret.debias.fit_centering`; nearest-centroid language, as for LAReQA).

    Plain and centered results come from one encoding. Fit the debiaser on text that is not
    evaluated (:func:`check_held_out`). The result saves and loads with
    :func:`polyret.evaluation.store.save_result` / ``load_result``.
    """
    config = config or NtrexEvalConfig()
    if debiaser is not None:
        embeddings = debiaser.transform_lareqa(embeddings)
    return config.score(dataset, embeddings)


def evaluate_ntrex(
    model: Any,
    dataset: LareqaDataset | None = None,
    *,
    config: NtrexEvalConfig | None = None,
    debiaser: EmbeddingDebiaser | None = None,
) -> LareqaResult:
    """Encode NTREX-128's evaluation part with ``model`` and score it (:func:`score_ntrex`).

    ``dataset`` defaults to :func:`load_ntrex_eval` (the 11 XQuAD-R languages).
    """
    config = config or NtrexEvalConfig()
    dataset = dataset if dataset is not None else load_ntrex_eval()
    return score_ntrex(dataset, config.encode(model, dataset), config=config, debiaser=debiaser)
