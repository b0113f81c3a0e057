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
import logging
from pathlib import Path

from polyret.debias.study import CenteringStudy, centering_study


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
    record = centering_study(CenteringStudy(**vars(args)))
    print("\n".join(record["table"]))


if __name__ == "__main__":
    main()
