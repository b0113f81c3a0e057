"""Benchmark: polyret's batched, cached translation vs one sentence at a time.

Uses a tiny random-weight Marian model (built here, no download) on real text: the
first paragraphs of XQuAD-R en.json (``$POLYRET_DATA`` or ../shared/data), each
paragraph given twice (as SQuAD repeats contexts across questions), so the input has
repeats like a real QA set. Both sides use the same loaded model and decoding
options; model loading is not timed.

    .venv/bin/python benchmarks/translate_speed.py [--paragraphs 60] [--threads 1]

Prints the time of (a) one ``generate`` call per sentence occurrence, (b) length-sorted
batches over every occurrence (batching alone) and (c) ``translate_dataset`` from an
empty cache (batching + each distinct text once + writing the files), and the ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from polyret.testing.translation import build_tiny_marian
from polyret.translate.backends import DecodeOptions, TransformersTranslator
from polyret.translate.pipeline import TranslateConfig, translate_dataset
from polyret.translate.source import load_squad

REPO = Path(__file__).resolve().parents[1]


def _xquad_subset(n_paragraphs: int) -> dict:
    data_dir = Path(os.environ.get("POLYRET_DATA", REPO.parent / "shared" / "data"))
    path = data_dir / "lareqa" / "xquad-r" / "en.json"
    if not path.is_file():
        sys.exit(f"{path} not found: set POLYRET_DATA to the staged data folder")
    raw = json.loads(path.read_text(encoding="utf-8"))
    articles, left = [], n_paragraphs
    for article in raw["data"]:
        if left <= 0:
            break
        paragraphs = article["paragraphs"][:left]
        left -= len(paragraphs)
        repeat = copy.deepcopy(paragraphs)
        for para in repeat:
            for qa in para["qas"]:
                qa["id"] += "-repeat"
        articles.append({"title": article["title"], "paragraphs": paragraphs + repeat})
    return {"version": "1.1", "data": articles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paragraphs", type=int, default=60, help="distinct XQuAD-R paragraphs (default: 60)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    squad = _xquad_subset(args.paragraphs)
    with tempfile.TemporaryDirectory(prefix="polyret-translate-bench-") as tmp:
        tmp_path = Path(tmp)
        input_path = tmp_path / "squad.json"
        input_path.write_text(json.dumps(squad), encoding="utf-8")
        source = load_squad(input_path, "en")
        occurrences = [
            t for p in source.paragraphs for t in (*p.sentences, *(q.question for q in p.qas))
        ]
        distinct = len(set(occurrences))
        model_dir = build_tiny_marian(
            tmp_path / "opus-mt-en-de", occurrences, d_model=32, layers=2, max_positions=256
        )
        decode = DecodeOptions(num_beams=1, max_new_tokens=args.max_new_tokens)
        translator = TransformersTranslator(str(model_dir), decode)
        translator.translate_batch(occurrences[:4], "en", "de")  # warm-up

        start = time.perf_counter()
        singles = [translator.translate_batch([t], "en", "de")[0] for t in occurrences]
        t_single = time.perf_counter() - start

        start = time.perf_counter()
        order = sorted(range(len(occurrences)), key=lambda i: len(occurrences[i]), reverse=True)
        batched: dict[int, str] = {}
        for k in range(0, len(order), args.batch_size):
            ids = order[k : k + args.batch_size]
            outs = translator.translate_batch([occurrences[i] for i in ids], "en", "de")
            batched.update(zip(ids, outs, strict=True))
        t_batched = time.perf_counter() - start

        config = TranslateConfig(
            input=input_path,
            targets=["de"],
            model=str(model_dir),
            out_dir=tmp_path / "out",
            batch_size=args.batch_size,
            decode=decode,
            progress=False,
        )
        start = time.perf_counter()
        report = translate_dataset(config, load=lambda ref: translator)
        t_polyret = time.perf_counter() - start
        start = time.perf_counter()
        translate_dataset(
            TranslateConfig(
                input=input_path,
                targets=["de"],
                model=str(model_dir),
                out_dir=tmp_path / "out2",
                batch_size=args.batch_size,
                decode=decode,
                progress=False,
                cache_path=config.work_dir / "cache.sqlite",
            ),
            load=lambda ref: translator,
        )
        t_cached = time.perf_counter() - start

    same = sum(singles[i] == batched[i] for i in range(len(occurrences))) / len(occurrences)
    n = len(occurrences)
    print(
        f"texts: {n} sentence+question occurrences, {distinct} distinct, {len(source.paragraphs)} paragraphs"
    )
    print(f"model: tiny random Marian (d_model 32, 2+2 layers), greedy, max_new_tokens {args.max_new_tokens}, "
          f"torch threads {args.threads}, batch size {args.batch_size}")  # fmt: skip
    print(f"one at a time:            {t_single:7.2f} s  {n / t_single:8.1f} texts/s")
    print(f"length-sorted batches:    {t_batched:7.2f} s  {n / t_batched:8.1f} texts/s  "
          f"x{t_single / t_batched:.1f}  ({same:.0%} outputs identical to one at a time)")  # fmt: skip
    print(f"polyret translate_dataset:{t_polyret:7.2f} s  {n / t_polyret:8.1f} texts/s  "
          f"x{t_single / t_polyret:.1f}  ({report.languages[0].translated} texts sent to the model)")  # fmt: skip
    print(
        f"polyret, warm cache:      {t_cached:7.2f} s  {n / t_cached:8.1f} texts/s  x{t_single / t_cached:.1f}"
    )
    print(f"ratio (one at a time / polyret): {t_single / t_polyret:.1f}")


if __name__ == "__main__":
    main()
