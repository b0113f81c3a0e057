"""Design study: should the query centroids come from real queries instead of calibration text?

Language centering fits one centroid per language and input kind. From plain calibration text
(NTREX-128 news) encoded with the query prompt, the query centroid is the mean of news sentences,
not of questions. This scores, from one encoding of a LAReQA dataset:

* centering with calibration text only (the default);
* query centroids from the questions of another LAReQA dataset (``--queries``), passage
  centroids from the calibration text (what ``--query-calibration`` does);
* the same with one language's questions held out in turn (its query centroid transferred from
  the others, as for a language without queries), and with English questions only;
* for reference, not a method: centroids from the evaluation texts themselves.

    POLYRET_DATA=../shared/data python scripts/query_centroid_study.py --dataset mlqa-r \
        --queries xquad-r --out results/debias/mlqa-r-queries-study.json
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

# the sibling script (run from scripts/ or as a path)
from centering_study import KEYS, cached_encoding, score

from polyret.data.lareqa import load_lareqa
from polyret.debias import encode_calibration, fit_from_embeddings, load_calibration, load_queries
from polyret.debias.centering import CenteringDebiaser
from polyret.debias.debiaser import Debiaser
from polyret.io import write_json
from polyret.models import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bundled:multilingual-e5-small")
    p.add_argument("--dataset", default="mlqa-r")
    p.add_argument("--queries", required=True, help="LAReQA dataset whose questions to use")
    p.add_argument("--calibration", default="ntrex")
    p.add_argument("--sentences", type=int, nargs="+", default=[100, 300])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--cache", type=Path, default=None, help="folder to keep the dataset encoding")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    start = time.perf_counter()

    dataset = load_lareqa(args.dataset, data_dir=args.data_dir)
    langs = dataset.langs
    model = load_model(args.model)
    model.max_seq_length = 128
    embeddings = cached_encoding(model, args.model, dataset, args.cache, args.batch_size)
    rows: list[dict[str, Any]] = [{"variant": "base", **score(dataset, embeddings)}]

    def add(label: str, debiaser: Debiaser) -> None:
        row = {"variant": label, **score(dataset, debiaser.transform_lareqa(embeddings))}
        rows.append(row)
        logging.info("%s", row)

    for n in args.sentences:
        texts = load_calibration(
            args.calibration, languages=langs, sentences=n, data_dir=args.data_dir
        ).texts
        calib = encode_calibration(model, texts, batch_size=args.batch_size)
        questions = load_queries(
            args.queries, languages=langs, sentences=n, data_dir=args.data_dir, evaluated=dataset
        )
        asked = encode_calibration(
            model, questions.texts, kinds=("query",), batch_size=args.batch_size
        )
        asked_q = asked["query"]
        add(f"center, {args.calibration} x{n}", fit_from_embeddings(calib))
        add(f"center, {args.queries} questions x{n}", fit_from_embeddings(calib, queries=asked_q))
        for lang in langs:
            if lang in asked_q:
                held_out = {k: v for k, v in asked_q.items() if k != lang}
                add(
                    f"center, {args.queries} questions x{n} without {lang}",
                    fit_from_embeddings(calib, queries=held_out),
                )
        if "en" in asked_q:
            add(
                f"center, {args.queries} questions x{n}, en only",
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

    base = rows[0]
    lines = [
        "| variant | " + " | ".join(KEYS) + " | Δ mono | Δ cross | Δ multi |",
        "|---" * (len(KEYS) + 4) + "|",
    ]
    for row in rows:
        cells = [f"{row[k]:.4f}" if k != "rank_distance" else f"{row[k]:.0f}" for k in KEYS]
        deltas = [f"{row[k] - base[k]:+.4f}" for k in ("mono_map", "cross_map", "multi_map")]
        lines.append(f"| {row['variant']} | " + " | ".join(cells + deltas) + " |")
    print("\n".join(lines))
    write_json(
        args.out,
        {
            "model": args.model,
            "dataset": args.dataset,
            "queries": args.queries,
            "calibration": args.calibration,
            "seconds": time.perf_counter() - start,
            "rows": rows,
            "table": lines,
        },
    )


if __name__ == "__main__":
    main()
