"""Design study for language centering: which variant removes the most language bias?

Encodes a LAReQA dataset and the calibration text once, then scores every variant from those
embeddings: centroid source (pooled / per-kind / query / passage), nearest-centroid vs the true
language, center vs project, parallel calibration text vs a disjoint sample per language (NTREX
only, from all its lines: no sentence's translation in another language's sample), the
number of calibration sentences, and the calibration text
(NTREX-128 news, or Wikipedia sentences of another LAReQA dataset with every sentence that
also occurs in the evaluation data removed).

    POLYRET_DATA=../shared/data python scripts/centering_study.py --dataset mlqa-r \
        --wiki-calibration xquad-r --out results/debias/mlqa-r-study.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from polyret.data.lareqa import LareqaDataset, load_lareqa
from polyret.debias import encode_calibration, fit_from_embeddings, load_calibration
from polyret.debias.calibration import evenly_spaced
from polyret.evaluation import encode_lareqa, evaluate_lareqa_embeddings
from polyret.evaluation.lareqa import LareqaEmbeddings
from polyret.io import write_json
from polyret.models import load_model

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
            raise SystemExit(f"{source.name} has no {lang}; cannot calibrate {target.name} on it")
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
        raise SystemExit(
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
            raise SystemExit(f"{path} was encoded by {cached_by!r}, not {spec!r}; delete it")
        tensors = load_file(str(path))
        logging.info("using the cached encoding %s", path)
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bundled:multilingual-e5-small")
    p.add_argument("--dataset", default="mlqa-r")
    p.add_argument("--data-dir", default=None)
    # NTREX-128's calibration part has 945 sentences per language
    p.add_argument("--sentences", type=int, nargs="+", default=[100, 300, 900])
    p.add_argument("--wiki-calibration", default=None, help="LAReQA dataset used as Wikipedia text")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--cache", type=Path, default=None, help="folder to keep the dataset encoding")
    p.add_argument(
        "--only",
        default=None,
        help="score only the variants whose label holds this text and replace them in --out",
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    start = time.perf_counter()

    old = json.loads(args.out.read_text(encoding="utf-8")) if args.only is not None else None
    sources = ["ntrex"] + ([args.wiki_calibration] if args.wiki_calibration else [])
    plan = [
        (f"{label}, {name} x{n}", method, centroids, true_lang, sample, name, n)
        for name in sources
        for n in args.sentences
        for label, method, centroids, true_lang, sample in VARIANTS
        if sample == "parallel" or name in LINE_ALIGNED
    ]
    if args.only is not None:
        plan = [item for item in plan if args.only in item[0]]
        if not plan:
            raise SystemExit(f"no variant's name holds {args.only!r}")
    needed = {item[5] for item in plan}

    dataset = load_lareqa(args.dataset, data_dir=args.data_dir)
    model = load_model(args.model)
    model.max_seq_length = 128
    most = max(args.sentences)
    texts: dict[str, dict[str, list[str]]] = {}
    if "ntrex" in needed:  # every line: subsample() takes the `most` that polyret debias reads
        texts["ntrex"] = load_calibration(
            "ntrex", languages=dataset.langs, sentences=NTREX_LINES, data_dir=args.data_dir
        ).texts
    if args.wiki_calibration in needed:
        other = load_lareqa(args.wiki_calibration, data_dir=args.data_dir)
        texts[args.wiki_calibration] = wiki_calibration(other, dataset, sys.maxsize)
    embeddings = cached_encoding(model, args.model, dataset, args.cache, args.batch_size)
    pools = {
        name: encode_calibration(model, t, batch_size=args.batch_size) for name, t in texts.items()
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
                logging.info("%s: too few lines for disjoint samples per language", variant)
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
        logging.info("%s", rows[-1])
    if old is not None:
        rows = merge_rows(old["rows"], rows, args.only)

    base = rows[0]
    lines = ["| variant | " + " | ".join(KEYS) + " | Δ multi |", "|---" * (len(KEYS) + 2) + "|"]
    for row in rows:
        cells = [f"{row[k]:.4f}" if k != "rank_distance" else f"{row[k]:.0f}" for k in KEYS]
        delta = row["multi_map"] - base["multi_map"]
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + f" | {delta:+.4f} |")
    print("\n".join(lines))
    run = {
        "model": args.model,
        "dataset": args.dataset,
        "seconds": time.perf_counter() - start,
        "sentences": args.sentences,
        "pool": {k: {lang: len(t) for lang, t in v.items()} for k, v in texts.items()},
        "no_disjoint_sample": skipped,
    }
    if old is None:
        result = run
    else:  # the other rows, and the run that scored them, stay as they were
        result = old | {"reruns": [*old.get("reruns", []), {"only": args.only, **run}]}
    write_json(args.out, result | {"rows": rows, "table": lines})


if __name__ == "__main__":
    main()
