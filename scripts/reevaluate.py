"""Re-run the ``polyret eval`` command a result folder records and compare every number.

A committed evaluation (``results.json`` from ``polyret eval``) holds the command that made it.
This reruns that command into another folder with the current code and compares the two
results number by number (summary, aggregates, every setting, language bias; the debiased
results in subfolders too). Exit 0 when every number agrees within ``--tolerance``.

    POLYRET_DATA=../shared/data python scripts/reevaluate.py results/ntrex/bundled --out /tmp/reeval
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The parts of results.json that are results; the rest records paths, timings and versions.
COMPARED = ("summary", "aggregates", "settings", "bias")
OUT_FLAGS = ("--out", "--output-dir")


def rerun_argv(command: str, out: Path) -> list[str]:
    """The recorded ``polyret eval ...`` command's arguments, writing to ``out`` instead."""
    argv = shlex.split(command)
    if argv[:2] != ["polyret", "eval"]:
        raise SystemExit(f"not a polyret eval command: {command!r}")
    argv = argv[2:]
    for i, arg in enumerate(argv):
        if arg in OUT_FLAGS and i + 1 < len(argv):
            argv[i + 1] = str(out)
            return argv
        if arg.split("=", 1)[0] in OUT_FLAGS and "=" in arg:
            argv[i] = f"{arg.split('=', 1)[0]}={out}"
            return argv
    return [*argv, "--output-dir", str(out)]


def numbers(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    """Every number in ``value`` (nested dicts and lists), keyed by its path."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numbers(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numbers(v, f"{key}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, float(value)


def compare(reference: Path, other: Path, tolerance: float) -> tuple[int, float, list[str]]:
    """(numbers compared, largest difference, what differs) for two results.json files."""
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (reference, other))
    left = dict(numbers({k: a.get(k) for k in COMPARED}))
    right = dict(numbers({k: b.get(k) for k in COMPARED}))
    problems = [f"{k}: only in {reference}" for k in left.keys() - right.keys()]
    problems += [f"{k}: only in {other}" for k in right.keys() - left.keys()]
    largest = 0.0
    for k in sorted(left.keys() & right.keys()):
        x, y = left[k], right[k]
        if math.isnan(x) and math.isnan(y):
            continue
        diff = abs(x - y)
        largest = max(largest, diff)
        if not diff <= tolerance:
            problems.append(f"{k}: {x!r} vs {y!r}")
    return len(left.keys() & right.keys()), largest, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="a polyret eval output folder (results.json)")
    parser.add_argument("--out", type=Path, required=True, help="where the rerun writes")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest difference allowed")
    args = parser.parse_args(argv)
    recorded = json.loads((args.result / "results.json").read_text(encoding="utf-8"))
    if not (args.out / "results.json").is_file():
        from polyret.cli.main import main as polyret

        code = polyret(["eval", *rerun_argv(recorded["command"], args.out)])
        if code:
            return code
    rerun = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
    if recorded.get("environment") != rerun.get("environment"):
        # near ties can order differently under other libraries or thread counts
        print(f"environment: recorded {recorded.get('environment', 'not recorded')}")
        print(f"             now      {rerun.get('environment')}")
    failed = False
    for found in sorted(args.result.rglob("results.json")):
        rel = found.relative_to(args.result)
        n, largest, problems = compare(found, args.out / rel, args.tolerance)
        print(f"{rel}: {n} numbers compared, largest difference {largest:.2e}")
        for line in problems[:20]:
            print(f"  {line}")
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
