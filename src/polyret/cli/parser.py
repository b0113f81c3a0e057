"""The argument parser of every polyret command: a bad flag is one ``error:`` line, exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line (argparse prints its whole usage
    first, which buries the error under a screen of flags)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def parse_config_flags(
    parser: argparse.ArgumentParser, cls: type[T], argv: Sequence[str], run_flags: Sequence[str]
) -> tuple[dict[str, Any], T]:
    """(this invocation's own flags, the config ``cls`` from ``--config`` and the option flags)."""
    from polyret.configfile import resolve_options

    args = vars(parser.parse_args(argv))
    run = {k: args.pop(k) for k in run_flags}
    return run, resolve_options(cls, run["config"], args)


def print_config(config: Any) -> None:
    """``--print-config``: the resolved options as YAML that ``--config`` reads back."""
    import yaml

    from polyret.configfile import to_mapping

    print(yaml.safe_dump(to_mapping(config), sort_keys=False, allow_unicode=True), end="")
