"""Reading YAML configuration files, rejecting unknown keys and checking values, shared by every
config."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from polyret.errors import ConfigError

E = TypeVar("E", bound=Enum)


def parse_enum(cls: type[E], value: Any, name: str) -> E:
    """``value`` as a member of ``cls`` (a member or its value); ConfigError naming the choices."""
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in cls)
        raise ConfigError(f"{name}={value!r}: must be one of {choices}") from None


def is_int(value: Any) -> bool:
    """An integer (numpy's too), not a bool."""
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``yaml.safe_load``); ConfigError naming the file otherwise."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of key: value")
    return data


def check_known_keys(
    values: Mapping[str, Any], known: Iterable[str], source: str, what: str = "key"
) -> None:
    """Raise ConfigError for the first key not in ``known``, suggesting the closest known one."""
    known = sorted(known)
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{source}: unknown {what} {key!r}{hint}")
