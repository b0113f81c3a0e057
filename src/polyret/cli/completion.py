"""``polyret completion``: a bash completion script for polyret's commands and their flags.

    eval "$(polyret completion)"          # in ~/.bashrc

The flags are read from each command's own parser, so the script never lags behind them.
"""

from __future__ import annotations

import argparse
import importlib

from polyret.cli.parser import ArgumentParser


def build_parser() -> argparse.ArgumentParser:
    return ArgumentParser(
        prog="polyret completion",
        description='Print a bash completion script; enable it with: eval "$(polyret completion)"',
    )


def flags(module_name: str) -> list[str]:
    """Every option string of a command's parser."""
    module = importlib.import_module(module_name)
    if not hasattr(module, "build_parser"):
        return []
    parser = module.build_parser()
    return sorted({s for action in parser._actions for s in action.option_strings})


def script() -> str:
    from polyret.cli.main import COMMANDS

    cases = "\n".join(
        f'        {name}) opts="{" ".join(flags(module))}" ;;'
        for name, (module, _) in COMMANDS.items()
    )
    return f"""_polyret() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} cmd="" opts="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in -*) ;; *) cmd=${{COMP_WORDS[i]}}; break ;; esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "{" ".join(COMMANDS)} -q --quiet -v --verbose --help" -- "$cur"))
        return
    fi
    case $cmd in
{cases}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _polyret polyret
"""


def main(argv: list[str]) -> int:
    build_parser().parse_args(argv)
    print(script(), end="")
    return 0
