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
from pathlib import Path

from polyret.debias.study import QueryCentroidStudy, query_centroid_study


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
    record = query_centroid_study(QueryCentroidStudy(**vars(args)))
    print("\n".join(record["table"]))


if __name__ == "__main__":
    main()
