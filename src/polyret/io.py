"""Atomic file and directory writes: a crash never leaves a half-written output."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Works for files and directories. On an exception the temporary is removed
    and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    inner = tmp / target.name
    try:
        yield inner
        _apply_umask(inner)
        if target.is_dir() and not target.is_symlink():
            # os.replace cannot replace a non-empty directory: move the old one aside first.
            old = tmp / ".old"
            os.replace(target, old)
        os.replace(inner, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path) -> None:
    """Give ``path`` (and what it holds) the modes the user's umask gives new files.

    Libraries write some files through ``tempfile`` (mode 0600, e.g. safetensors weights) and
    ``mkdtemp`` folders are 0700; published as they are, a shared cache or results folder could
    not be read by the others who should read it.
    """
    if not path.exists() or path.is_symlink():
        return
    mask = _current_umask()
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if item.is_symlink():
            continue
        executable = item.is_dir() or (item.stat().st_mode & 0o111)
        item.chmod((0o777 if executable else 0o666) & ~mask)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            h.update(block)
    return h.hexdigest()


def read_lines(path: str | os.PathLike[str], expected: int | None = None) -> list[str]:
    """The lines of a UTF-8 text file (gzip when the name ends in .gz), without line ends.

    Only ``\\n`` ends a line (the upstream files end lines with ``\\r\\n``; a lone ``\\r`` inside a
    sentence stays). ``expected``: the line count the file must have (line-aligned files).
    """
    import gzip

    from polyret.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read: {exc}", path=path) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if expected is not None and len(lines) != expected:
        raise DataError(f"{len(lines)} lines, expected {expected} (line-aligned files)", path=path)
    return lines


def check_output_dir(
    path: str | os.PathLike[str],
    *,
    flag: str = "--output-dir",
    overwrite: bool = False,
    may_hold: str | None = None,
) -> Path:
    """Refuse, before any work, an output folder that cannot take the results.

    ``path`` must not be a file, it (or the folder it would be created in) must be writable, and
    an existing non-empty folder needs ``overwrite``, unless ``may_hold`` says what it may hold
    (e.g. a run to resume: the caller checks that itself). Raises ``ConfigError`` naming
    ``flag``; creates nothing.
    """
    from polyret.errors import ConfigError

    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a folder; choose another {flag}")
    if path.is_dir() and not overwrite and may_hold is None and any(path.iterdir()):
        raise ConfigError(
            f"{flag} {path}: is not empty; pass --overwrite to replace what is there, or "
            f"choose another {flag}"
        )
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{flag} {path}: cannot be created, {existing} is a file; choose another {flag}"
        )
    # A probe file, not os.access: access() says yes to root, read-only mounts say no later.
    try:
        fd, probe = tempfile.mkstemp(prefix=".polyret-write-check-", dir=existing)
    except OSError as exc:
        raise ConfigError(
            f"{flag} {path}: cannot write into {existing} ({exc.strerror or exc}); choose a "
            f"writable {flag}"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path
