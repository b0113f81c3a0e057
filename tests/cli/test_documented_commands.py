"""Every ``polyret`` command in the docs parses with the CLI it documents.

Users copy these commands; a renamed or removed flag should fail here, not in their shell.
Commands are taken from ``bash``/``sh`` code blocks of the Markdown files and from the comment
lines of the experiment configs, and parsed (not run) by their subcommand's parser, with
abbreviated flags refused. Inline code in prose is left out: much of it is a fragment (one
flag, a command without its config).
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

from polyret.cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "benchmarks").glob("*.md")),
    *sorted((REPO / "results").glob("**/README.md")),
]
CONFIGS = sorted((REPO / "experiments").glob("*.yaml"))
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
GLOBAL_OPTIONS = {"-q", "--quiet", "-v", "--verbose"}
COMMAND_LINE = re.compile(r"(?:[A-Z_]+=\S*\s+)*(?:\S*/)?polyret\s")
SHELL_OPERATORS = {"&&", "||", "|", ";", "&", ">", ">>", "2>&1"}


def _shell_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the shell lines in ``path``, continuations joined."""
    lines = path.read_text(encoding="utf-8").splitlines()
    picked: list[tuple[int, str]] = []
    if path.suffix == ".md":
        fence: str | None = None
        for number, line in enumerate(lines, 1):
            if line.lstrip().startswith("```"):
                fence = None if fence is not None else line.strip()[3:].strip() or "text"
            elif fence in SHELL_BLOCKS:
                picked.append((number, line.strip()))
    else:  # a config's comments: "#   polyret experiment --config ..."
        picked = [(n, line.lstrip("# ")) for n, line in enumerate(lines, 1) if line.startswith("#")]
    joined: list[tuple[int, str]] = []
    for number, line in picked:
        if joined and joined[-1][1].endswith("\\"):
            joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line)
        else:
            joined.append((number, line))
    return joined


def _commands() -> list[tuple[str, list[str]]]:
    """(where, argv after ``polyret``) for every polyret command in the docs."""
    found = []
    for path in [*DOCS, *CONFIGS]:
        for number, line in _shell_lines(path):
            if not COMMAND_LINE.match(line):
                continue
            try:
                words = shlex.split(line, comments=True)
            except ValueError as error:  # reported by the test below, with where it is
                found.append((f"{path.relative_to(REPO)}:{number}", [f"<{error}>"]))
                continue
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value polyret ...
                words.pop(0)
            if not words or Path(words[0]).name != "polyret":
                continue
            argv = words[1:]
            cut = [i for i, word in enumerate(argv) if word in SHELL_OPERATORS]
            argv = argv[: cut[0]] if cut else argv
            while argv and argv[0] in GLOBAL_OPTIONS:
                argv.pop(0)
            found.append((f"{path.relative_to(REPO)}:{number}", argv))
    return found


COMMANDS_IN_DOCS = _commands()


def test_the_docs_show_commands() -> None:
    # The README's own set-up and main-job commands at least; an extraction that finds nothing
    # would make the test below pass vacuously.
    assert len(COMMANDS_IN_DOCS) > 30
    assert {argv[0] for _, argv in COMMANDS_IN_DOCS if argv} >= {"train", "eval", "experiment"}


@pytest.mark.parametrize(("where", "argv"), COMMANDS_IN_DOCS, ids=[w for w, _ in COMMANDS_IN_DOCS])
def test_a_documented_command_parses(where: str, argv: list[str]) -> None:
    assert argv and argv[0] in COMMANDS, f"{where}: unknown command polyret {' '.join(argv)}"
    parser = importlib.import_module(COMMANDS[argv[0]][0]).build_parser()
    parser.allow_abbrev = False  # a prefix of a flag parses, but the docs should spell it out
    try:
        parser.parse_args(argv[1:])
    except SystemExit as exit:
        pytest.fail(f"{where}: polyret {shlex.join(argv)} does not parse (exit {exit.code})")
