"""``polyret demo``: a two-minute look at cross-lingual retrieval with a model.

Takes the questions of the first paragraphs of XQuAD-R in a few languages, encodes them and
the sentences of those paragraphs in every language, and prints, for each query language x
passage language, how often the answer sentence is ranked first (P@1).
"""

from __future__ import annotations

import argparse
import time

from polyret.cli.parser import ArgumentParser
from polyret.configfile import split_languages
from polyret.flags import add_data_dir, add_device, add_no_progress, add_precision
from polyret.models.resolve import DEFAULT_MODEL
from polyret.progress import bars_on

DEFAULT_LANGUAGES = ["en", "de", "ru", "zh", "ar", "hi", "th"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="polyret demo",
        description="Encode a few XQuAD-R questions and passages in several languages with a model and "
        "print a cross-lingual retrieval table (P@1 for every query language x passage language).",
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model spec (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        metavar="LANG",
        default=DEFAULT_LANGUAGES,
        help="XQuAD-R languages (default: %(default)s)",
    )
    parser.add_argument(
        "--paragraphs", type=int, default=12, help="paragraphs per language (default %(default)s)"
    )
    add_data_dir(parser)
    add_device(parser)
    add_precision(parser)
    add_no_progress(parser)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import torch
    from tqdm.auto import tqdm

    from polyret.data.lareqa import load_lareqa
    from polyret.data.registry import locate_dataset
    from polyret.errors import ConfigError
    from polyret.models import load_model, resolve_model
    from polyret.precision import set_precision

    if args.paragraphs < 1:
        raise ConfigError(f"--paragraphs {args.paragraphs}: must be at least 1")
    langs = split_languages(args.languages, "--languages")
    resolved = resolve_model(args.model)  # a bad model is reported before missing data
    dataset = load_lareqa(locate_dataset("xquad-r", args.data_dir), langs)
    start = time.perf_counter()
    model = load_model(resolved, device=args.device)
    precision = set_precision(model, args.precision)
    print(
        f"model {args.model}  ({time.perf_counter() - start:.1f} s to load), precision {precision}"
    )

    # XQuAD-R paragraphs are parallel and in the same order in every language.
    first = sorted({(q.article, q.paragraph) for q in dataset.languages[langs[0]].questions})
    keep = set(first[: args.paragraphs])
    ids = [q.id for q in dataset.languages[langs[0]].questions if (q.article, q.paragraph) in keep]
    queries, pools, answers = {}, {}, {}
    for lang in tqdm(
        langs,
        desc="encoding questions and sentences",
        unit="language",
        disable=not bars_on(not args.no_progress),
    ):
        part = dataset.languages[lang]
        by_id = {q.id: q for q in part.questions}
        pool = [c for c in part.candidates if (c.article, c.paragraph) in keep]
        position = {c.index: i for i, c in enumerate(pool)}
        queries[lang] = model.encode_query([by_id[i].text for i in ids], convert_to_tensor=True)
        pools[lang] = model.encode_document([c.text for c in pool], convert_to_tensor=True)
        answers[lang] = [position[by_id[i].answer] for i in ids]
    n_q = len(ids)
    print(
        f"{n_q} questions x {len(langs)} languages, pools of ~{len(next(iter(pools.values())))} sentences each\n"
    )
    print("P@1 (rows: query language, columns: passage language)")
    print("      " + " ".join(f"{lang:>6}" for lang in langs))
    diag, off = [], []
    for x in langs:
        row = []
        for y in langs:
            top1 = (queries[x] @ pools[y].T).argmax(dim=1)
            gold = torch.tensor(answers[y])
            p1 = (top1.cpu() == gold).float().mean().item()
            (diag if x == y else off).append(p1)
            row.append(f"{p1:6.2f}")
        print(f"{x:>6}" + " ".join(row))
    print(
        f"\nmonolingual mean P@1 {sum(diag) / len(diag):.3f}   cross-lingual mean P@1 {sum(off) / max(len(off), 1):.3f}"
    )
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0
