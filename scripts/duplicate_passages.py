"""Count batches that hold a query or passage twice, with groups alone and with linked groups.

Before polyret linked question ids that share a query or passage (text, or paragraph with
``--context``), a batch could hold two questions with one answer sentence: that sentence was
then the positive of one and an in-batch negative of the other.

    python scripts/duplicate_passages.py --data-dir ../shared/data --batch-size 32
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
from polyret.pairs import build_pairs
from polyret.samplers import BatchPlanner, SamplerConfig, conflicting_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for name in ("xquad-r", "mlqa-r"):
        data = load_lareqa(resolve_lareqa_folder(name, args.data_dir))
        for context in (False, True):
            pairs = build_pairs(data, context=context)
            meta = pairs.metadata()
            for label, m in (
                ("groups only", dataclasses.replace(meta, link=None)),
                ("linked", meta),
            ):
                planner = BatchPlanner(
                    m, SamplerConfig("hybrid", 0.5, world_size=1), args.batch_size, seed=args.seed
                )
                counts = conflicting_batches(planner.plan(0), pairs)
                row = {"dataset": name, "context": context, "batching": label, **counts}
                print(json.dumps(row))


if __name__ == "__main__":
    main()
