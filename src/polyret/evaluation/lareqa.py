"""LAReQA evaluation (XQuAD-R, MLQA-R): every setting from one set of embeddings.

Settings (``docs/evaluation-protocol.md``): mono X->X, cross X->Y over the ids
that Y also holds, and multilingual X->all over the pool of every loaded
language. Encoding (:func:`encode_lareqa`) and scoring
(:func:`evaluate_lareqa_embeddings`) are separate, so callers can transform
embeddings in between (debiasing) or reuse them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polyret.data.lareqa import Candidate, LareqaDataset
from polyret.errors import ConfigError, ModelError, parse_enum
from polyret.evaluation.results import MULTI, LareqaResult, SettingResult
from polyret.evaluation.scoring import Pool, count_before, topk_ties
from polyret.precision import parse_precision, precision_scope
from polyret.progress import bars_on

__all__ = [
    "TIE_RULE",
    "CandidateText",
    "LareqaEmbeddings",
    "LareqaEvalConfig",
    "candidate_docnos",
    "candidate_texts",
    "encode_lareqa",
    "evaluate_lareqa",
    "evaluate_lareqa_embeddings",
    "token_length_order",
    "write_lareqa_runs",
]

logger = logging.getLogger(__name__)

TIE_RULE = (
    "candidates are ranked by score (dot product, float64) descending; equal scores are ordered "
    "by docno descending, exactly as trec_eval orders them. docno = "
    "'<lang>-a<article>-p<paragraph>-s<sentence>' (0-based, zero-padded), so among equal scores "
    "the later language code, then the later article, paragraph and sentence ranks first. "
    "Candidates with identical embeddings are scored once, so they always tie exactly."
)


class CandidateText(str, Enum):
    """What a candidate's text is: the sentence alone (LAReQA's default), or the sentence
    followed by a space and its paragraph (the answer with its context)."""

    SENTENCE = "sentence"
    SENTENCE_CONTEXT = "sentence+context"


def candidate_texts(candidates: Sequence[Candidate], option: str | CandidateText) -> list[str]:
    """The text encoded for each candidate under ``option``."""
    if parse_enum(CandidateText, option, "candidate_text") is CandidateText.SENTENCE:
        return [c.text for c in candidates]
    return [f"{c.text} {c.context}" for c in candidates]


def candidate_docnos(dataset: LareqaDataset) -> dict[str, list[str]]:
    """lang -> docno of each candidate (``TIE_RULE``); zero-padded to the dataset's widest number."""
    cands = [c for d in dataset.languages.values() for c in d.candidates]
    widths = [
        max(3, len(str(max((getattr(c, f) for c in cands), default=0))))
        for f in ("article", "paragraph", "sentence")
    ]
    wa, wp, ws = widths
    return {
        lang: [
            f"{lang}-a{c.article:0{wa}d}-p{c.paragraph:0{wp}d}-s{c.sentence:0{ws}d}"
            for c in d.candidates
        ]
        for lang, d in dataset.languages.items()
    }


@dataclass
class LareqaEmbeddings:
    """Per-language embeddings, float32, as the model outputs them (normalized or not).

    ``queries[lang]``: [n_questions(lang), d] in question order;
    ``candidates[lang]``: [n_candidates(lang), d] in candidate order.
    """

    queries: dict[str, torch.Tensor]
    candidates: dict[str, torch.Tensor]
    candidate_text: str = CandidateText.SENTENCE.value
    encode_seconds: float = 0.0
    n_unique_queries: int = 0
    n_unique_candidates: int = 0
    precision: str = "fp32"  # what the model encoded in (polyret.precision), resolved

    @property
    def dim(self) -> int:
        return next(iter(self.queries.values())).shape[1]

    def to(self, device: str | torch.device) -> LareqaEmbeddings:
        return dataclasses.replace(
            self,
            queries={k: v.to(device) for k, v in self.queries.items()},
            candidates={k: v.to(device) for k, v in self.candidates.items()},
        )


@dataclass
class ScoringOptions:
    """What every evaluation of embeddings takes (LAReQA's and NTREX-128's).

    ``seen_languages``: the training languages, to split aggregates into seen / unseen (None: no
    split). ``chunk_size``: query rows scored at once; memory is about chunk_size x pool size x
    25 bytes (170 MB for 512 x XQuAD-R's 13,014).
    """

    batch_size: int = 64
    seen_languages: Sequence[str] | None = None
    ks: tuple[int, ...] = (1, 5, 10, 100)
    ndcg_k: int = 10
    chunk_size: int = 512
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        _check_scoring_options(self.ks, self.ndcg_k, self.chunk_size)

    def scoring(self) -> dict[str, Any]:
        """The keyword arguments every ``evaluate_*_embeddings`` function takes from these."""
        return {
            "seen_languages": self.seen_languages,
            "ks": self.ks,
            "ndcg_k": self.ndcg_k,
            "chunk_size": self.chunk_size,
        }


@dataclass
class LareqaEvalConfig(ScoringOptions):
    """Options of :func:`evaluate_lareqa` (and those of :class:`ScoringOptions`).

    ``precision``: auto, fp32, bf16 or fp16 (``polyret.precision``) for the encoding; None
    leaves the model as it is (fp32 unless :func:`polyret.precision.set_precision` changed it).
    """

    candidate_text: str = CandidateText.SENTENCE.value
    precision: str | None = None

    def __post_init__(self) -> None:
        self.candidate_text = parse_enum(CandidateText, self.candidate_text, "candidate_text").value
        if self.precision is not None:
            self.precision = parse_precision(self.precision).value
        super().__post_init__()

    def encode(self, model: Any, dataset: LareqaDataset) -> LareqaEmbeddings:
        """:func:`encode_lareqa` with these options."""
        return encode_lareqa(
            model,
            dataset,
            batch_size=self.batch_size,
            candidate_text=self.candidate_text,
            show_progress=self.show_progress,
            precision=self.precision,
        )

    def score(self, dataset: LareqaDataset, embeddings: LareqaEmbeddings) -> LareqaResult:
        """:func:`evaluate_lareqa_embeddings` with these options (one encoding, many scorings)."""
        return evaluate_lareqa_embeddings(dataset, embeddings, **self.scoring())


def _check_scoring_options(ks: Sequence[int], ndcg_k: int, chunk_size: int) -> None:
    if not ks or any(int(k) < 1 for k in ks):
        raise ConfigError(f"ks must be positive integers, got {list(ks)}")
    if ndcg_k < 1:
        raise ConfigError(f"ndcg_k must be >= 1, got {ndcg_k}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")


def token_length_order(model: Any, texts: Sequence[str]) -> np.ndarray | None:
    """Indices of ``texts`` from the most tokens to the fewest (None: the model has no tokenizer).

    sentence-transformers sorts by characters, which groups texts of very different token
    counts once scripts mix (XQuAD-R: Thai and Chinese against Latin); batches cut from this
    order are padded by 1-3% instead of 40-75%.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if not callable(tokenizer):
        return None
    limit = getattr(model, "max_seq_length", None)
    ids = tokenizer(
        list(texts),
        add_special_tokens=False,
        truncation=limit is not None,
        max_length=limit,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    return np.argsort([-len(x) for x in ids], kind="stable")


def _encode(
    model: Any, method: str, texts: list[str], batch_size: int, show_progress: bool
) -> torch.Tensor:
    fn = getattr(model, method, None)
    if fn is None:
        raise ModelError(
            f"model {type(model).__name__} has no {method}(); pass a SentenceTransformer"
        )
    order = token_length_order(model, texts) if len(texts) > batch_size else None
    if order is None:
        out = fn(
            texts,
            batch_size=batch_size,
            show_progress_bar=bars_on(show_progress),
            convert_to_tensor=True,
        )
        out = torch.as_tensor(out)
    else:  # one call per batch, in token-length order
        from tqdm.auto import tqdm

        parts = []
        for lo in tqdm(
            range(0, len(texts), batch_size), desc=method, disable=not bars_on(show_progress)
        ):
            batch = [texts[i] for i in order[lo : lo + batch_size]]
            part = fn(batch, batch_size=batch_size, show_progress_bar=False, convert_to_tensor=True)
            parts.append(torch.as_tensor(part))
        out = torch.cat(parts) if all(p.ndim == 2 for p in parts) else parts[0]
        if out.ndim == 2 and len(out) == len(texts):
            unsorted = torch.empty_like(out)
            unsorted[torch.as_tensor(order, device=out.device)] = out
            out = unsorted
    if out.ndim != 2 or len(out) != len(texts):
        raise ModelError(f"{method} returned shape {tuple(out.shape)} for {len(texts)} texts")
    return out.float()


def encode_lareqa(
    model: Any,
    dataset: LareqaDataset,
    *,
    batch_size: int = 64,
    candidate_text: str | CandidateText = CandidateText.SENTENCE,
    show_progress: bool = True,
    precision: str | None = None,
) -> LareqaEmbeddings:
    """Encode every unique question (``encode_query``) and candidate text (``encode_document``) once.

    ``precision``: encode at this precision (``polyret.precision``; None: as the model is set).
    Returns per-language float32 tensors on the model's device.
    """
    option = parse_enum(CandidateText, candidate_text, "candidate_text")
    start = time.perf_counter()
    q_texts = {lang: [q.text for q in d.questions] for lang, d in dataset.languages.items()}
    c_texts = {lang: candidate_texts(d.candidates, option) for lang, d in dataset.languages.items()}
    q_unique = list(dict.fromkeys(t for ts in q_texts.values() for t in ts))
    c_unique = list(dict.fromkeys(t for ts in c_texts.values() for t in ts))
    logger.info(
        "encoding %d unique queries and %d unique candidates (%s)",
        len(q_unique),
        len(c_unique),
        option.value,
    )
    with precision_scope(model, precision) as resolved:
        q_emb = _encode(model, "encode_query", q_unique, batch_size, show_progress)
        c_emb = _encode(model, "encode_document", c_unique, batch_size, show_progress)
    q_row = {t: i for i, t in enumerate(q_unique)}
    c_row = {t: i for i, t in enumerate(c_unique)}

    def gather(emb: torch.Tensor, rows: dict[str, int], texts: list[str]) -> torch.Tensor:
        return emb[torch.tensor([rows[t] for t in texts], dtype=torch.long, device=emb.device)]

    return LareqaEmbeddings(
        queries={lang: gather(q_emb, q_row, ts) for lang, ts in q_texts.items()},
        candidates={lang: gather(c_emb, c_row, ts) for lang, ts in c_texts.items()},
        candidate_text=option.value,
        encode_seconds=time.perf_counter() - start,
        n_unique_queries=len(q_unique),
        n_unique_candidates=len(c_unique),
        precision=resolved,
    )


def _check_embeddings(dataset: LareqaDataset, emb: LareqaEmbeddings) -> None:
    for lang, d in dataset.languages.items():
        for kind, table, n in (
            ("queries", emb.queries, len(d.questions)),
            ("candidates", emb.candidates, len(d.candidates)),
        ):
            if lang not in table:
                raise ConfigError(f"embeddings have no {kind} for language {lang!r}")
            shape = tuple(table[lang].shape)
            if len(shape) != 2 or shape[0] != n:
                raise ConfigError(f"{kind}[{lang!r}] has shape {shape}, expected ({n}, d)")
            if not bool(torch.isfinite(table[lang]).all()):
                raise ConfigError(f"{kind}[{lang!r}] holds NaN or infinite values")
    dims = {t.shape[1] for t in (*emb.queries.values(), *emb.candidates.values())}
    if len(dims) != 1:
        raise ConfigError(f"embeddings have different dimensions: {sorted(dims)}")


def _build_pool(
    dataset: LareqaDataset, emb: LareqaEmbeddings
) -> tuple[Pool, dict[str, np.ndarray]]:
    """The pooled candidates, and per query language the pool index of each question's
    answer in every language: int64 [n_q, L], -1 where the id is absent."""
    langs = dataset.langs
    docnos = candidate_docnos(dataset)
    device = emb.candidates[langs[0]].device
    if device.type == "mps":  # no float64 on MPS
        device = torch.device("cpu")
    pool = Pool.build(
        langs,
        [emb.candidates[lang] for lang in langs],
        [d for lang in langs for d in docnos[lang]],
        device=device,
    )
    relevant: dict[str, np.ndarray] = {}
    for x, data in dataset.languages.items():
        rel = np.full((len(data.questions), len(langs)), -1, dtype=np.int64)
        for j, y in enumerate(langs):
            other = dataset.languages[y]
            for i, q in enumerate(data.questions):
                found = other.question(q.id)
                if found is not None:
                    rel[i, j] = pool.offsets[j] + found.answer
        relevant[x] = rel
    return pool, relevant


@dataclass
class _Ranks:
    """Where one query language's relevant candidates rank (int64, 0 where a slot is absent).

    ``in_block`` [n_q, L]: rank of slot j's candidate inside its own language block;
    ``in_pool`` [n_q, L]: its rank in the pooled ranking; ``own_top`` [n_q]: share of the top-k
    of the pool in the query's language; ``own_before`` [n_q]: candidates of the query's
    language ranked before its best-ranked relevant candidate.
    """

    in_block: np.ndarray
    in_pool: np.ndarray
    own_top: np.ndarray
    own_before: np.ndarray


def _rank_queries(
    pool: Pool,
    queries: torch.Tensor,
    relevant: np.ndarray,
    own_block: int,
    chunk_size: int,
    top_k: int,
    removed: np.ndarray | None = None,
) -> _Ranks:
    """Rank every query's relevant candidates (``relevant`` [n_q, L] pool indices, -1: absent)
    in chunks of ``chunk_size`` queries scored once against the whole pool.

    ``removed`` [n_q]: the pool index of a candidate taken out of each query's ranking (bitext,
    where the query itself is a candidate; -1: none). It scores -inf, so it ranks before no
    candidate and is left out of the top-k.
    """
    n_q, n_langs = relevant.shape
    rel = torch.from_numpy(relevant).to(pool.device)
    in_block = torch.zeros(n_q, n_langs, dtype=torch.int64)  # rank inside Y's block (0: absent)
    in_pool = torch.zeros(n_q, n_langs, dtype=torch.int64)  # rank in the pooled ranking
    own_top = torch.zeros(n_q, dtype=torch.float64)
    own_before = torch.zeros(n_q, dtype=torch.int64)
    diag = torch.arange(n_langs, device=pool.device)
    depth = min(top_k, pool.size - (0 if removed is None else 1))
    for lo in range(0, n_q, chunk_size):
        hi = min(lo + chunk_size, n_q)
        r = rel[lo:hi]
        scores = pool.scores(queries[lo:hi])  # [c, N]
        if removed is not None:
            gone = torch.from_numpy(removed[lo:hi]).to(pool.device)
            rows = (gone >= 0).nonzero().flatten()
            scores[rows, gone[rows]] = -torch.inf
        # [c, L blocks, L slots]: candidates of each language ranked before each answer
        before = count_before(scores, pool.keys, pool.block_of, n_langs, r)
        present = r >= 0
        in_block[lo:hi] = torch.where(present, before[:, diag, diag] + 1, 0).cpu()
        pooled = torch.where(present, before.sum(1) + 1, 0)
        in_pool[lo:hi] = pooled.cpu()
        best = torch.where(present, pooled, torch.iinfo(torch.int64).max).argmin(1)  # [c]
        own = before[torch.arange(hi - lo, device=pool.device), own_block, best]
        own_before[lo:hi] = torch.where(present.any(1), own, 0).cpu()
        top = topk_ties(scores, pool.keys, depth)
        own_top[lo:hi] = (pool.block_of[top] == own_block).double().mean(1).cpu()
    return _Ranks(in_block.numpy(), in_pool.numpy(), own_top.numpy(), own_before.numpy())


def evaluate_lareqa_embeddings(
    dataset: LareqaDataset,
    embeddings: LareqaEmbeddings,
    *,
    seen_languages: Sequence[str] | None = None,
    ks: Sequence[int] = (1, 5, 10, 100),
    ndcg_k: int = 10,
    chunk_size: int = 512,
    top_k: int = 10,
) -> LareqaResult:
    """Score every setting from the embeddings: mono, cross (ids shared with Y) and multilingual.

    For each query language, chunks of ``chunk_size`` queries are scored once
    against the whole pool ([chunk, N] float64); mono/cross ranks are counted
    inside each language block and multilingual ranks over the whole row.
    ``seen_languages``: training languages for the seen / unseen split;
    ``top_k``: depth of the own-language share in the multilingual pool.
    """
    _check_scoring_options(ks, ndcg_k, chunk_size)
    _check_embeddings(dataset, embeddings)
    ks = tuple(int(k) for k in ks)
    start = time.perf_counter()
    pool, relevant = _build_pool(dataset, embeddings)
    langs = pool.langs
    settings: dict[str, SettingResult] = {}
    for xi, x in enumerate(langs):
        questions = dataset.languages[x].questions
        ranked = _rank_queries(pool, embeddings.queries[x], relevant[x], xi, chunk_size, top_k)
        ids = [q.id for q in questions]
        in_block_np, in_pool_np = ranked.in_block, ranked.in_pool
        for yi, y in enumerate(langs):
            rows = np.flatnonzero(in_block_np[:, yi] > 0)
            if len(rows) == 0:
                continue
            settings[f"{x}->{y}"] = SettingResult(
                x,
                y,
                [ids[i] for i in rows],
                len(dataset.languages[y].candidates),
                in_block_np[rows, yi : yi + 1],
                [y],
                ks=ks,
                ndcg_k=ndcg_k,
            )
        settings[f"{x}->{MULTI}"] = SettingResult(
            x,
            MULTI,
            ids,
            pool.size,
            in_pool_np,
            list(langs),
            ks=ks,
            ndcg_k=ndcg_k,
            own_top=ranked.own_top,
            top_k=top_k,
        )
    order = {"mono": 0, "cross": 1, "multi": 2}
    settings = dict(sorted(settings.items(), key=lambda kv: order[kv[1].kind]))
    return LareqaResult(
        dataset=dataset.name,
        languages=list(langs),
        settings=settings,
        seen_languages=None if seen_languages is None else sorted(set(seen_languages)),
        tie_rule=TIE_RULE,
        candidate_text=embeddings.candidate_text,
        timings={"encode": embeddings.encode_seconds, "score": time.perf_counter() - start},
    )


def evaluate_lareqa(
    model: Any, dataset: LareqaDataset, config: LareqaEvalConfig | None = None
) -> LareqaResult:
    """Encode with ``model`` and score every setting (``encode_lareqa`` + ``evaluate_lareqa_embeddings``)."""
    config = config or LareqaEvalConfig()
    return config.score(dataset, config.encode(model, dataset))


def write_lareqa_runs(
    dataset: LareqaDataset,
    embeddings: LareqaEmbeddings,
    out_dir: str | Path,
    *,
    depth: int | None = 100,
    chunk_size: int = 512,
    tag: str = "polyret",
) -> dict[str, Any]:
    """Write one TREC run and one qrels file per setting under ``out_dir`` (replaced atomically).

    Files: ``runs/<X>-<Y>.run`` and ``qrels/<X>-<Y>.qrels``, Y = ``all`` for the
    multilingual pool. ``depth``: results per query (None: the full pool, so
    trec_eval's ``map`` equals polyret's AP exactly; with a cut-off, trec_eval's
    ``map`` is AP truncated at ``depth``). Returns a description for results.json.
    """
    from polyret.data.trec import write_qrels, write_run
    from polyret.io import atomic_path

    if depth is not None and depth < 1:
        raise ConfigError(f"run depth must be >= 1 or None (full pool), got {depth}")
    _check_embeddings(dataset, embeddings)
    pool, relevant = _build_pool(dataset, embeddings)
    langs = pool.langs
    docnos = candidate_docnos(dataset)
    pool_docnos = [d for lang in langs for d in docnos[lang]]

    def ranked(x: str, yi: int | None) -> Iterator[tuple[str, list[tuple[str, float]]]]:
        """(qid, [(docno, score), ...]) in ranking order for setting x -> langs[yi] (None: the pool)."""
        questions = dataset.languages[x].questions
        rel = relevant[x]
        block = slice(0, pool.size) if yi is None else pool.block(yi)
        for lo in range(0, len(questions), chunk_size):
            hi = min(lo + chunk_size, len(questions))
            rows = [i for i in range(lo, hi) if yi is None or rel[i, yi] >= 0]
            if not rows:
                continue
            queries = embeddings.queries[x][torch.tensor(rows, device=embeddings.queries[x].device)]
            scores = pool.scores(queries, block)  # [c, n_block]
            k = scores.shape[1] if depth is None else depth
            top = topk_ties(scores, pool.keys[block], k)
            values = scores.gather(1, top).cpu().tolist()
            top = (top + block.start).cpu().tolist()
            for i, cols, vals in zip(rows, top, values, strict=True):
                yield (
                    questions[i].id,
                    [(pool_docnos[c], v) for c, v in zip(cols, vals, strict=True)],
                )

    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        (tmp / "runs").mkdir(parents=True)
        (tmp / "qrels").mkdir()
        for x in langs:
            rel = relevant[x]
            ids = [q.id for q in dataset.languages[x].questions]
            for yi, y in [*enumerate(langs), (None, MULTI)]:
                cols = list(range(len(langs))) if yi is None else [yi]
                qrels = {
                    qid: {pool_docnos[rel[i, j]]: 1 for j in cols if rel[i, j] >= 0}
                    for i, qid in enumerate(ids)
                }
                qrels = {qid: docs for qid, docs in qrels.items() if docs}
                if not qrels:
                    continue
                write_qrels(tmp / "qrels" / f"{x}-{y}.qrels", qrels)
                write_run(tmp / "runs" / f"{x}-{y}.run", ranked(x, yi), tag=tag)
    return {
        "dir": str(out_dir),
        "depth": "full pool" if depth is None else depth,
        "files": "runs/<query_lang>-<candidate_lang>.run, qrels/<query_lang>-<candidate_lang>.qrels",
        "note": (
            "trec_eval map equals polyret's AP exactly"
            if depth is None
            else f"top-{depth} per query: trec_eval map here is AP truncated at rank {depth}; "
            f"recall@k (k <= {depth}) and ndcg_cut_10 equal polyret's exactly"
        ),
    }
