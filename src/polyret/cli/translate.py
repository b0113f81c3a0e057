"""``polyret translate``: machine-translate SQuAD-format QA into a parallel LAReQA set."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from polyret.cli.parser import ArgumentParser
from polyret.configfile import split_languages
from polyret.flags import add_no_progress
from polyret.io import check_output_dir

EPILOG = """\
--model forms:
  facebook/nllb-200-distilled-600M       one multilingual model (NLLB-200, M2M-100), hub id or folder
  /models/opus-mt-en-{tgt}                one Marian/OPUS-MT model per target ({src}, {tgt} filled in)
  de=/models/en-de,es=/models/en-es       an explicit model per target

Output: OUT/<lang>.json for the source and every target language. Each paragraph is
translated sentence by sentence; answers[0] of every question is its whole answer
sentence (the answer span cannot be aligned through a translation). A killed run
resumes where it stopped when started again with the same arguments.
"""


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret translate",
        description="Translate SQuAD-format QA sentence by sentence into a parallel LAReQA-format set.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--input",
        required=True,
        type=Path,
        help="SQuAD v1.1/v2.0 JSON (LAReQA sentence_breaks optional)",
    )
    p.add_argument(
        "--to",
        required=True,
        nargs="+",
        metavar="LANG",
        help="target languages, ISO 639-1, space- or comma-separated (de es zh)",
    )
    p.add_argument(
        "--model",
        required=True,
        help="model folder or hub id, a {tgt} template, or lang=model,... (see below)",
    )
    p.add_argument(
        "--output-dir", "--out", dest="out", required=True, type=Path, help="output folder"
    )
    p.add_argument("--source-lang", default="en", help="language of --input (default: en)")
    p.add_argument("--backend", choices=("transformers", "ctranslate2"), default="transformers")
    p.add_argument(
        "--batch-size", type=int, default=32, help="sentences per model call (default: 32)"
    )
    p.add_argument(
        "--chunk-size", type=int, default=64, help="paragraphs per resumable chunk (default: 64)"
    )
    p.add_argument(
        "--beams", type=int, default=4, help="beam size (default: 4; 1 = greedy, faster)"
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=256,
        help="longest translation in tokens (default: 256)",
    )
    p.add_argument(
        "--max-input-tokens",
        type=int,
        default=None,
        help="cut longer sentences (default: the model's limit)",
    )
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "float16", "bfloat16", "int8"),
        help="auto = float16 on GPU, float32 on CPU; int8 for ctranslate2 only",
    )
    p.add_argument(
        "--tokenizer",
        default=None,
        help="ctranslate2: tokenizer folder or hub id if the model has none",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="SQLite translation cache to use or share (default: OUT/.polyret-translate/cache.sqlite)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow model code from the model folder or hub",
    )
    add_no_progress(p)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    targets = split_languages(args.to, "--to")
    # A translation resumes into its own folder, so what is there is the caller's to keep.
    check_output_dir(args.out, may_hold="a translation to resume")
    from polyret.translate.backends import DecodeOptions
    from polyret.translate.pipeline import TranslateConfig, translate_dataset

    config = TranslateConfig(
        input=args.input,
        targets=targets,
        model=args.model,
        out_dir=args.out,
        source_lang=args.source_lang,
        backend=args.backend,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        decode=DecodeOptions(
            num_beams=args.beams,  # every other field has a flag of its own name
            **{
                f.name: getattr(args, f.name)
                for f in fields(DecodeOptions)
                if f.name != "num_beams"
            },
        ),
        cache_path=args.cache,
        progress=not args.no_progress,
    )
    report = translate_dataset(config)
    print(
        f"{report.source_path}: {report.paragraphs} paragraphs, {report.sentences} sentences, "
        f"{report.questions} questions"
    )
    for lang in report.languages:
        print(
            f"{lang.path}: {lang.translated} texts translated ({lang.sentences_per_second:.1f}/s), "
            f"{lang.resumed_chunks} chunks resumed, {lang.empty_outputs} empty outputs kept as source"
        )
    return 0
