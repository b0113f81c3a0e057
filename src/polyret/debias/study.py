"""Design studies of language centering, scored from one encoding of a LAReQA dataset.

- :func:`centering_study`: which variant removes the most language bias: centroid source
  (pooled / per-kind / query / passage), nearest-centroid vs the true language, center vs
  project, parallel calibration text vs a disjoint sample per language (NTREX only), the number
  of calibration sentences, and the calibration text (NTREX-128 news, or Wikipedia sentences of
  another LAReQA dataset with every sentence of the evaluation data removed).
- :func:`query_centroid_study`: should the query centroids come from real queries (the
  questions of another LAReQA dataset) instead of calibration text encoded as queries; with
  one language's questions held out in turn, English only, and, for reference (not a method),
  centroids of the evaluation texts themselves.

``scripts/centering_study.py`` and ``scripts/query_centroid_study.py`` are their commands;
the committed results are in ``results/debias/`` (docs/debias.md reads them).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from polyret.data.lareqa import LareqaDataset, load_lareqa
from polyret.debias.calibration import evenly_spaced, load_calibration, load_queries
from polyret.debias.centering import CenteringDebiaser
from polyret.debias.debiaser import Debiaser
from polyret.debias.fit import encode_calibration, fit_from_embeddings
from polyret.errors import ConfigError
from polyret.evaluation import encode_lareqa, evaluate_lareqa_embeddings
from polyret.evaluation.lareqa import LareqaEmbeddings
from polyret.io import write_json
from polyret.models import load_model

logger = logging.getLogger(__name__)

KEYS = ("mono_map", "cross_map", "multi_map", "rank_distance", "same_lang_first")
NTREX_LINES = 945  # NTREX-128's calibration part, sentences per language
# (label, method, centroid source, name the true language, sample). "disjoint" samples are
# drawn only from line-aligned text (NTREX), where a shared row index is a shared translation.
VARIANTS = [
    ("center pooled nearest", "center", "pooled", False, "parallel"),
    ("center pooled true-language", "center", "pooled", True, "parallel"),
    ("center per-kind nearest", "center", "per-kind", False, "parallel"),
    ("center passage nearest", "center", "passage", False, "parallel"),
    ("center query nearest", "center", "query", False, "parallel"),
    ("project pooled", "project", "pooled", False, "parallel"),
    ("center pooled nearest, non-parallel", "center", "pooled", False, "disjoint"),
]
LINE_ALIGNED = ("ntrex",)


def wiki_calibration(
    source: LareqaDataset, target: LareqaDataset, sentences: int
) -> dict[str, list[str]]:
    """Evenly spaced distinct candidate sentences of ``source`` that ``target`` does not hold."""
    out = {}
    for lang in target.langs:
        if lang not in source.languages:
            raise ConfigError(f"{source.name} has no {lang}; cannot calibrate {target.name} on it")
        taken = {c.text for c in target.languages[lang].candidates}
        pool = list(dict.fromkeys(c.text for c in source.languages[lang].candidates))
        pool = [t for t in pool if t not in taken]
        out[lang] = evenly_spaced(pool, sentences)
    return out


def subsample(
    emb: dict[str, dict[str, torch.Tensor]], n: int
) -> dict[str, dict[str, torch.Tensor]]:
    """``n`` evenly spaced rows per language (all of them if fewer), as ``evenly_spaced`` picks.

    [kind][lang] [N, d] -> [min(n, N), d]. On line-aligned text (NTREX) these are the same
    sentences, translations of one another, in every language.
    """
    out: dict[str, dict[str, torch.Tensor]] = {}
    for kind, per_lang in emb.items():
        out[kind] = {}
        for lang, e in per_lang.items():
            out[kind][lang] = e[evenly_spaced(range(e.shape[0]), n)]
    return out


def disjoint_subsample(
    emb: dict[str, dict[str, torch.Tensor]], n: int
) -> dict[str, dict[str, torch.Tensor]] | None:
    """``n`` rows per language, no row index shared between languages (None if too few rows).

    The language at position p of L takes ``n`` evenly spaced rows of its own slice (rows
    r with r mod L = p), so on line-aligned text no sentence's translation is in another
    language's sample. A pool of N rows allows at most N // L sentences per language.
    """
    out: dict[str, dict[str, torch.Tensor]] = {}
    for kind, per_lang in emb.items():
        out[kind] = {}
        langs = sorted(per_lang)
        for pos, lang in enumerate(langs):
            e = per_lang[lang]
            own = range(pos, e.shape[0], len(langs))
            if len(own) < n:
                return None
            out[kind][lang] = e[evenly_spaced(own, n)]
    return out


def merge_rows(
    old: list[dict[str, Any]], rows: list[dict[str, Any]], only: str
) -> list[dict[str, Any]]:
    """``old`` rows with every variant holding ``only`` replaced by the new ``rows`` (base kept).

    Old matching variants that were not scored again (no disjoint sample possible) are dropped.
    """
    if abs(old[0]["multi_map"] - rows[0]["multi_map"]) > 1e-6:
        raise ConfigError(
            f"the base model scores {rows[0]['multi_map']:.6f} multi mAP, the study file "
            f"{old[0]['multi_map']:.6f}: another model or encoding; rerun the whole study"
        )
    new = {row["variant"]: row for row in rows[1:]}
    merged = []
    for row in old:
        if row["variant"] == "base" or only not in row["variant"]:
            merged.append(row)
        elif row["variant"] in new:
            merged.append(new.pop(row["variant"]))
    return merged + list(new.values())


def score(dataset: LareqaDataset, embeddings: LareqaEmbeddings) -> dict[str, float]:
    summary = evaluate_lareqa_embeddings(dataset, embeddings).summary()
    return {k: float(summary[k]) for k in KEYS}


def cached_encoding(
    model: Any, spec: str, dataset: Any, cache: Path | None, batch_size: int
) -> LareqaEmbeddings:
    """Encode ``dataset`` once; with ``cache``, keep the tensors in ``cache/<name>.safetensors``.

    The file records the model spec; a cached encoding by another model is refused.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = cache / f"{dataset.name}.safetensors" if cache else None
    if path is not None and path.is_file():
        with safe_open(str(path), "pt") as f:
            cached_by = (f.metadata() or {}).get("model")
        if cached_by != spec:
            raise ConfigError(f"{path} was encoded by {cached_by!r}, not {spec!r}; delete it")
        tensors = load_file(str(path))
        logger.info("using the cached encoding %s", path)
        return LareqaEmbeddings(
            queries={k[2:]: v for k, v in tensors.items() if k.startswith("q/")},
            candidates={k[2:]: v for k, v in tensors.items() if k.startswith("c/")},
        )
    emb = encode_lareqa(model, dataset, batch_size=batch_size)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"q/{k}": v.contiguous() for k, v in emb.queries.items()}
        tensors |= {f"c/{k}": v.contiguous() for k, v in emb.candidates.items()}
        save_file(tensors, str(path), metadata={"model": spec})
    return emb


def study_table(rows: list[dict[str, Any]], deltas: tuple[str, ...]) -> list[str]:
    """Markdown lines: one row per variant, its ``KEYS`` and its differences from the first row
    (the base model) in ``deltas``."""
    base = rows[0]
    names = " | ".join(f"Δ {k.split('_')[0]}" for k in deltas)
    lines = [
        f"| variant | {' | '.join(KEYS)} | {names} |",
        "|---" * (len(KEYS) + 1 + len(deltas)) + "|",
    ]
    for row in rows:
        cells = [f"{row[k]:.4f}" if k != "rank_distance" else f"{row[k]:.0f}" for k in KEYS]
        cells += [f"{row[k] - base[k]:+.4f}" for k in deltas]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return lines


@dataclass
class CenteringStudy:
    """The options of :func:`centering_study` (its script's flags)."""

    out: Path
    model: str = "bundled:multilingual-e5-small"
    dataset: str = "mlqa-r"
    data_dir: str | None = None
    sentences: list[int] = field(default_factory=lambda: [100, 300, 900])
    wiki_calibration: str | None = None  # a LAReQA dataset used as Wikipedia text
    batch_size: int = 128
    cache: Path | None = None  # a folder that keeps the dataset's encoding
    only: str | None = None  # score only the variants whose label holds this, replace them in out


def centering_study(study: CenteringStudy) -> dict[str, Any]:
    """Score every centering variant; write ``study.out`` (rows and table) and return it."""
    start = time.perf_counter()

    old = json.loads(study.out.read_text(encoding="utf-8")) if study.only is not None else None
    sources = ["ntrex"] + ([study.wiki_calibration] if study.wiki_calibration else [])
    plan = [
        (f"{label}, {name} x{n}", method, centroids, true_lang, sample, name, n)
        for name in sources
        for n in study.sentences
        for label, method, centroids, true_lang, sample in VARIANTS
        if sample == "parallel" or name in LINE_ALIGNED
    ]
    if study.only is not None:
        plan = [item for item in plan if study.only in item[0]]
        if not plan:
            raise ConfigError(f"no variant's name holds {study.only!r}")
    needed = {item[5] for item in plan}

    dataset = load_lareqa(study.dataset, data_dir=study.data_dir)
    model = load_model(study.model)
    model.max_seq_length = 128
    most = max(study.sentences)
    texts: dict[str, dict[str, list[str]]] = {}
    if "ntrex" in needed:  # every line: subsample() takes the `most` that polyret debias reads
        texts["ntrex"] = load_calibration(
            "ntrex", languages=dataset.langs, sentences=NTREX_LINES, data_dir=study.data_dir
        ).texts
    if study.wiki_calibration in needed:
        other = load_lareqa(study.wiki_calibration, data_dir=study.data_dir)
        texts[study.wiki_calibration] = wiki_calibration(other, dataset, sys.maxsize)
    embeddings = cached_encoding(model, study.model, dataset, study.cache, study.batch_size)
    pools = {
        name: encode_calibration(model, t, batch_size=study.batch_size) for name, t in texts.items()
    }
    calib = {name: subsample(pool, most) for name, pool in pools.items()}

    rows: list[dict[str, Any]] = [{"variant": "base", **score(dataset, embeddings)}]
    skipped = []
    for variant, method, centroids, true_lang, sample, name, n in plan:
        if sample == "parallel":
            fit_on = subsample(calib[name], n)
        else:
            fit_on = disjoint_subsample(pools[name], n)
            if fit_on is None:
                logger.info("%s: too few lines for disjoint samples per language", variant)
                skipped.append(variant)
                continue
        debiaser = fit_from_embeddings(fit_on, method=method, centroids=centroids)
        debiased = LareqaEmbeddings(
            queries=debiaser.transform_per_language(
                embeddings.queries, kind="query", name_language=true_lang
            ),
            candidates=debiaser.transform_per_language(
                embeddings.candidates, kind="passage", name_language=true_lang
            ),
            candidate_text=embeddings.candidate_text,
        )
        rows.append({"variant": variant, **score(dataset, debiased)})
        logger.info("%s", rows[-1])
    if old is not None:
        rows = merge_rows(old["rows"], rows, study.only)

    lines = study_table(rows, ("multi_map",))
    run = {
        "model": study.model,
        "dataset": study.dataset,
        "seconds": time.perf_counter() - start,
        "sentences": study.sentences,
        "pool": {k: {lang: len(t) for lang, t in v.items()} for k, v in texts.items()},
        "no_disjoint_sample": skipped,
    }
    if old is None:
        result = run
    else:  # the other rows, and the run that scored them, stay as they were
        result = old | {"reruns": [*old.get("reruns", []), {"only": study.only, **run}]}
    record = result | {"rows": rows, "table": lines}
    write_json(study.out, record)
    return record


@dataclass
class QueryCentroidStudy:
    """The options of :func:`query_centroid_study` (its script's flags)."""

    out: Path
    queries: str  # the LAReQA dataset whose questions make the query centroids
    model: str = "bundled:multilingual-e5-small"
    dataset: str = "mlqa-r"
    calibration: str = "ntrex"
    sentences: list[int] = field(default_factory=lambda: [100, 300])
    data_dir: str | None = None
    batch_size: int = 128
    cache: Path | None = None


def query_centroid_study(study: QueryCentroidStudy) -> dict[str, Any]:
    """Score centering with query centroids from real questions against calibration text only;
    write ``study.out`` (rows and table) and return it."""
    start = time.perf_counter()

    dataset = load_lareqa(study.dataset, data_dir=study.data_dir)
    langs = dataset.langs
    model = load_model(study.model)
    model.max_seq_length = 128
    embeddings = cached_encoding(model, study.model, dataset, study.cache, study.batch_size)
    rows: list[dict[str, Any]] = [{"variant": "base", **score(dataset, embeddings)}]

    def add(label: str, debiaser: Debiaser) -> None:
        row = {"variant": label, **score(dataset, debiaser.transform_lareqa(embeddings))}
        rows.append(row)
        logger.info("%s", row)

    for n in study.sentences:
        texts = load_calibration(
            study.calibration, languages=langs, sentences=n, data_dir=study.data_dir
        ).texts
        calib = encode_calibration(model, texts, batch_size=study.batch_size)
        questions = load_queries(
            study.queries, languages=langs, sentences=n, data_dir=study.data_dir, evaluated=dataset
        )
        asked = encode_calibration(
            model, questions.texts, kinds=("query",), batch_size=study.batch_size
        )
        asked_q = asked["query"]
        add(f"center, {study.calibration} x{n}", fit_from_embeddings(calib))
        add(f"center, {study.queries} questions x{n}", fit_from_embeddings(calib, queries=asked_q))
        for lang in langs:
            if lang in asked_q:
                held_out = {k: v for k, v in asked_q.items() if k != lang}
                add(
                    f"center, {study.queries} questions x{n} without {lang}",
                    fit_from_embeddings(calib, queries=held_out),
                )
        if "en" in asked_q:
            add(
                f"center, {study.queries} questions x{n}, en only",
                fit_from_embeddings(calib, queries={"en": asked_q["en"]}),
            )

    # Reference, not a method: centroids from the evaluation texts themselves.
    oracle = CenteringDebiaser.from_centroids(
        {
            "query": {lang: embeddings.queries[lang].mean(0) for lang in langs},
            "passage": {lang: embeddings.candidates[lang].mean(0) for lang in langs},
        }
    )
    add("reference: centroids of the evaluation texts (not a method)", oracle)

    lines = study_table(rows, ("mono_map", "cross_map", "multi_map"))
    record = {
        "model": study.model,
        "dataset": study.dataset,
        "queries": study.queries,
        "calibration": study.calibration,
        "seconds": time.perf_counter() - start,
        "rows": rows,
        "table": lines,
    }
    write_json(study.out, record)
    return record
