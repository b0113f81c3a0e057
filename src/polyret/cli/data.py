"""``polyret data``: where the data was found, and what is there (languages, sizes, checksums)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from polyret.cli.parser import ArgumentParser
from polyret.flags import add_data_dir


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="polyret data",
        description="Show where each dataset is found (--data-dir, $POLYRET_DATA, polyret's cache "
        "or a staged ../shared/data, in that order), its files' languages and sizes, and whether "
        "each file matches the sha256 of the public original. Downloads nothing.",
    )
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def _file_rows(folder: Path, info: Any) -> list[dict[str, Any]]:
    """One row per expected file: language, size, and whether its sha256 matches upstream."""
    import gzip
    import hashlib

    rows = []
    for remote in info.files:
        path = folder.parent / Path(remote.relpath).relative_to(Path(info.relpath).parent)
        row: dict[str, Any] = {"file": path.name, "present": path.is_file()}
        if path.is_file():
            data = path.read_bytes()
            upstream = gzip.decompress(data) if remote.gzip_local else data
            row["bytes"] = len(data)
            row["sha256_ok"] = hashlib.sha256(upstream).hexdigest() == remote.sha256
        rows.append(row)
    return rows


def survey(data_dir: str | None) -> dict[str, Any]:
    """Per dataset: the folder found (and by which rule) and its files."""
    from polyret.data.registry import DATASETS, locate_dataset
    from polyret.errors import DataError
    from polyret.paths import DATA_ENV, cache_dir

    out: dict[str, Any] = {
        "data_dir": data_dir,
        DATA_ENV: os.environ.get(DATA_ENV),
        "cache": str(cache_dir()),
        "datasets": {},
    }
    for name, info in DATASETS.items():
        try:
            folder = locate_dataset(name, data_dir, download=False)
        except DataError as exc:
            out["datasets"][name] = {"found": False, "why": str(exc), "licence": info.licence}
            continue
        files = _file_rows(folder, info)
        out["datasets"][name] = {
            "found": True,
            "folder": str(folder),
            "licence": info.licence,
            "files": files,
            "all_match": all(f.get("sha256_ok") for f in files),
        }
    return out


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    report = survey(args.data_dir)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"data root: --data-dir {report['data_dir']}, $POLYRET_DATA {report['POLYRET_DATA']}")
    print(f"cache: {report['cache']}")
    for name, entry in report["datasets"].items():
        if not entry["found"]:
            print(f"\n{name}: not found ({entry['why']})")
            continue
        files = entry["files"]
        present = [f for f in files if f["present"]]
        size = sum(f["bytes"] for f in present) / 1e6
        check = "all match the originals" if entry["all_match"] else "SOME DIFFER OR ARE MISSING"
        print(f"\n{name}: {entry['folder']}")
        print(f"  {len(present)}/{len(files)} files, {size:.1f} MB, sha256: {check}")
        print(f"  licence: {entry['licence']}")
        print("  files: " + " ".join(f["file"] for f in present))
        for f in files:
            if f["present"] and not f["sha256_ok"]:
                print(f"  differs from the original: {f['file']}")
            if not f["present"]:
                print(f"  missing: {f['file']}")
    return 0
