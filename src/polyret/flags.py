"""The command-line flags that several commands share, each defined here once: ``--data-dir``,
``--device``, ``--precision`` and ``--no-progress``.

Below the CLI package on purpose: ``python -m polyret.corpus.encode`` (a torchrun entry point)
takes the same flags as ``polyret eval``.
"""

from __future__ import annotations

import argparse

from polyret.precision import DEFAULT_PRECISION, PRECISIONS

PRECISION_CHOICES = (
    "auto (bf16 where the CPU or GPU has it natively, else fp32), fp32, bf16 (autocast; emulated "
    "and slow without native support) or fp16 (CUDA only)"
)


def add_data_dir(parser: argparse.ArgumentParser, *, holds: str = "") -> None:
    """``--data-dir``; ``holds``: what the command reads there (e.g. "ntrex-128/")."""
    what = f"data root{' holding ' + holds if holds else ''}"
    parser.add_argument(
        "--data-dir", default=None, help=f"{what} (default $POLYRET_DATA, then the cache)"
    )


def add_device(
    parser: argparse.ArgumentParser, *, default_help: str = "sentence-transformers' choice"
) -> None:
    """``--device`` (a torch device, None: ``default_help``)."""
    parser.add_argument("--device", default=None, help=f"torch device (default: {default_help})")


def add_precision(
    parser: argparse.ArgumentParser,
    *,
    what: str = "encoding precision",
    default: str | None = DEFAULT_PRECISION,
    note: str = "",
) -> None:
    """``--precision``; ``default=None`` for an override of a config's precision."""
    said = f"default {default}" if default else f"the config's default is {DEFAULT_PRECISION}"
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help=f"{what}: {PRECISION_CHOICES}; {said}{'. ' + note if note else ''}",
    )


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (``polyret.cli.main`` also silences the libraries' bars with it)."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (transformers' and sentence-transformers' included)",
    )
