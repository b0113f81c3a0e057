"""User-facing errors.

Every mistake a user can make (a bad file, a bad option, a missing model) raises
a :class:`PolyretError`. The CLI prints its message on one line and exits with
status 2, without a traceback; programming errors keep their traceback.
"""

from __future__ import annotations

from enum import Enum
from os import PathLike
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)


class PolyretError(Exception):
    """Base class of every error caused by user input or environment."""


class ConfigError(PolyretError):
    """An option or configuration value is invalid."""


class ModelError(PolyretError):
    """A model spec cannot be resolved, converted or loaded."""


class DataError(PolyretError):
    """An input file is missing or malformed.

    The message names the file, the record and the field, so the user can find
    the problem without a debugger::

        DataError("answer_start 900 lies outside every sentence",
                  path="xquad-r/de.json", record="qas id 56be…", field="answer_start")
        # -> xquad-r/de.json: qas id 56be…: field 'answer_start': answer_start 900 lies ...
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.record = record
        self.field = field
        self.reason = message
        parts = [p for p in (self.path, record) if p]
        if field:
            parts.append(f"field {field!r}")
        parts.append(message)
        super().__init__(": ".join(parts))


def parse_enum(cls: type[E], value: Any, name: str) -> E:
    """``value`` as a member of ``cls`` (a member or its value); ConfigError naming the choices."""
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in cls)
        raise ConfigError(f"{name}={value!r}: must be one of {choices}") from None
