"""The ``polyret`` command: a table of subcommands, imported only when used."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

from polyret import __version__
from polyret.errors import PolyretError

# name -> (module, one-line summary). Modules are imported lazily so that
# `polyret --help` does not pay for torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "polyret.cli.demo",
        "encode a few multilingual texts and print a cross-lingual retrieval table",
    ),
    "model": (
        "polyret.cli.model",
        "resolve, convert and inspect models (model info | model convert)",
    ),
    "eval": (
        "polyret.cli.eval",
        "evaluate a model on XQuAD-R / MLQA-R in every setting, with language bias",
    ),
    "train": ("polyret.cli.train", "fine-tune a retriever with mono, cross or hybrid batches"),
    "experiment": (
        "polyret.cli.experiment",
        "train and compare strategies over seeds, write one report",
    ),
    "recipe": (
        "polyret.cli.recipe",
        "choose the learning rate and scale, or screen batch designs, on a dev split",
    ),
    "debias": ("polyret.cli.debias", "remove the language signal from embeddings without training"),
    "translate": (
        "polyret.cli.translate",
        "machine-translate SQuAD-format QA into a parallel LAReQA set",
    ),
    "compare": (
        "polyret.cli.compare",
        "compare two experiments that differ in one setting, seed by seed",
    ),
    "data": ("polyret.cli.data", "where the data was found: datasets, languages, sizes, checksums"),
    "completion": ("polyret.cli.completion", "print a bash completion script (eval it in .bashrc)"),
}

ENVIRONMENT = """environment:
  POLYRET_DATA   data root (a folder laid out like shared/data: lareqa/xquad-r/*.json, ...);
                 default: polyret's cache, then a staged ../shared/data
  POLYRET_CACHE  polyret's cache: converted models, downloaded data (default ~/.cache/polyret)

global options (before the command):
  -q, --quiet    only warnings and errors
  -v, --verbose  debug messages, and the libraries' info messages"""


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        f"polyret {__version__}: multilingual dense retrieval with hybrid batch training",
        "",
        "usage: polyret <command> [options]    (polyret <command> --help for each)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join([*lines, "", ENVIRONMENT])


def set_verbosity(level: int) -> None:
    """0: polyret's progress messages (INFO), libraries only when they warn; below 0 (``-q``):
    warnings only, no progress bars; above 0 (``-v``): debug, and the libraries' INFO."""
    logging.basicConfig(
        level=logging.INFO if level > 0 else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    own = logging.DEBUG if level > 0 else logging.INFO if level == 0 else logging.WARNING
    logging.getLogger("polyret").setLevel(own)
    if level < 0:
        from polyret.progress import disable_progress_bars

        disable_progress_bars()


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; user errors print one line and return 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"polyret {__version__}")
        return 0
    verbosity = 0
    while argv and argv[0] in ("-q", "--quiet", "-v", "--verbose"):
        verbosity += -1 if argv.pop(0) in ("-q", "--quiet") else 1
    if not argv:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"polyret: error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    set_verbosity(verbosity)
    if "--no-progress" in rest:  # every command takes it; the libraries' bars go too
        from polyret.progress import disable_progress_bars

        disable_progress_bars()
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except PolyretError as exc:
        print(f"polyret {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"polyret {name}: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
