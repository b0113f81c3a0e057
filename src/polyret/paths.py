"""Where polyret keeps its cache and finds its data."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "POLYRET_CACHE"
DATA_ENV = "POLYRET_DATA"


def cache_dir() -> Path:
    """polyret's cache: ``$POLYRET_CACHE`` or the user cache dir (``~/.cache/polyret``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("polyret", appauthor=False))
