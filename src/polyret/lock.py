"""One process per output folder: a second ``polyret train`` or ``experiment`` on a folder in use
stops with one line naming the other process.

The lock is an ``fcntl.flock`` on ``<folder>/.polyret.lock``, which holds the owner's pid, host,
command and start time. The kernel drops the flock when its process dies, however it dies
(SIGKILL, OOM, a lost machine), so a lock left behind by a dead process is taken over, and the
message says whose it was. (An ``O_EXCL`` lock file alone would need a guess at staleness.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyret.errors import ConfigError

logger = logging.getLogger(__name__)

LOCK_FILE = ".polyret.lock"


def _describe(record: dict[str, Any]) -> str:
    started = record.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    return (
        f"process {record.get('pid', '?')} on {record.get('host', '?')} "
        f"({record.get('command', '?')!s}, started {when})"
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str], what: str = "this folder") -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if needed) for the ``with`` block.

    Raises ``ConfigError`` naming the holder when another live process has it. Under data
    parallelism only the main process (``RANK`` 0) locks; the others share its lock.
    """
    folder = Path(folder)
    if int(os.environ.get("RANK", "0")) != 0:
        yield folder / LOCK_FILE
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"{folder} is in use by {_describe(_read(path))}; wait for it to finish or stop "
                f"it, then run again (two processes on {what} would overwrite each other)"
            ) from None
        previous = _read(path)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            logger.warning(
                "%s: took over the lock left by %s, which is no longer running",
                folder,
                _describe(previous),
            )
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(["polyret", *sys.argv[1:]]) if sys.argv else "python",
            "started": time.time(),
        }
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record))
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()  # released cleanly: nothing stale is left to report
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
