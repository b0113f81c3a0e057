"""Reading YAML configuration files, rejecting unknown keys and checking values, shared by every
config; flags and YAML keys of config dataclasses, generated from their fields in one place."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from polyret.errors import ConfigError

T = TypeVar("T")


def is_int(value: Any) -> bool:
    """An integer (numpy's too), not a bool."""
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]+)*")


def check_at_least(config: Any, *names: str, minimum: int = 1, flags: bool = True) -> None:
    """A ConfigError for the first field of ``names`` below ``minimum`` (None passes), named as
    its flag (``--batch-size``) or, with ``flags=False``, as its config key (``batch_size``)."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value < minimum:
            label = "--" + name.replace("_", "-") if flags else name
            raise ConfigError(f"{label} must be at least {minimum}, got {value}")


def check_language_codes(codes: Iterable[str] | None, name: str) -> None:
    """Refuse language codes that no data file is named by (``EN``, ``en ``, ``english``), before
    any work: the files are ``<code>.json`` / ``<code>.txt`` with lower-case ISO 639 codes."""
    for code in codes or ():
        if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code):
            hint = ""
            if isinstance(code, str) and _LANGUAGE_CODE.fullmatch(code.strip().lower()):
                hint = f"; did you mean {code.strip().lower()!r}?"
            raise ConfigError(
                f"{name}: {code!r} is not a language code (lower-case ISO 639, e.g. en, de, "
                f"zh){hint}"
            )


def split_languages(values: Iterable[str] | None, name: str) -> list[str] | None:
    """Language codes given space- or comma-separated (``de es`` or ``de,es``), checked."""
    if values is None:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    if not out:
        raise ConfigError(f"{name}: an empty language list was given")
    check_language_codes(out, name)
    return out


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


# ---- config dataclasses: options, flags and YAML keys ---------------------------------------
#
# A config is a dataclass whose fields are its options; a field whose type is itself a config
# dataclass (``TrainConfig.sampler: SamplerConfig``) holds a group of options. Every option,
# nested or not, has one flat name, its field name: the flag (``pair_weighting`` ->
# ``--pair-weighting``) and the YAML key. A YAML file may give an option of a group at the top
# level (``alpha: 0.5``, as configs did before groups existed) or under the group's key
# (``sampler: {alpha: 0.5}``); configs are saved with the groups.


def option(
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
    aliases: tuple[str, ...] = (),
    **kw: Any,
) -> Any:
    """A config field with its help text (and, for a plain string, the values it takes;
    ``metavar``: how ``--help`` names a value, e.g. LANG; ``aliases``: more flags for it,
    e.g. ``("--out",)``)."""
    metadata: dict[str, Any] = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if metavar is not None:
        metadata["metavar"] = metavar
    if aliases:
        metadata["aliases"] = tuple(aliases)
    return dataclasses.field(metadata=metadata, **kw)


def internal(**kw: Any) -> Any:
    """A dataclass field that is set by code, never by a flag or a YAML key."""
    return dataclasses.field(metadata={"option": False}, **kw)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a config dataclass, found by :func:`config_options`."""

    path: tuple[str, ...]  # field names from the config down: ("sampler", "alpha")
    type: Any  # the field's type without ``| None``
    optional: bool  # whether None is a valid value
    help: str
    default: Any
    choices: tuple[str, ...] | None = None  # a plain string option's values (flag choices)
    metavar: str | None = None  # how --help names a value (default: from the name)
    aliases: tuple[str, ...] = ()  # more flags for the option: ("--out",)

    @property
    def name(self) -> str:
        """The flat name: the YAML key and (with dashes) the flag."""
        return self.path[-1]

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def is_option(f: dataclasses.Field[Any]) -> bool:
    """Whether the dataclass field ``f`` is a config option (not :func:`internal`)."""
    return f.metadata.get("option", True)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(the first type other than None, whether None is allowed) for ``X | Y | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        return next(a for a in args if a is not type(None)), type(None) in args
    return tp, False


def _group(tp: Any) -> type | None:
    """The config dataclass of a group field, None for an option."""
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


@functools.cache
def config_options(cls: type) -> dict[str, Option]:
    """Every option of the config dataclass ``cls``, groups walked, keyed by flat name."""
    found: dict[str, Option] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not is_option(f):
            continue
        tp, optional = _base_type(hints[f.name])
        group = _group(tp)
        inner = (
            [dataclasses.replace(o, path=(f.name, *o.path)) for o in config_options(group).values()]
            if group is not None
            else [
                Option(
                    (f.name,),
                    tp,
                    optional,
                    f.metadata.get("help", ""),
                    _default(f),
                    f.metadata.get("choices"),
                    f.metadata.get("metavar"),
                    f.metadata.get("aliases", ()),
                )
            ]
        )
        for opt in inner:
            if opt.name in found:  # a programming error: flat names must be unique
                raise TypeError(f"{cls.__name__}: two options are named {opt.name!r}")
            found[opt.name] = opt
    return found


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _groups(cls: type) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: group
        for f in dataclasses.fields(cls)
        if is_option(f) and (group := _group(_base_type(hints[f.name])[0])) is not None
    }


def flat_options(cls: type, values: Any, source: str) -> dict[str, Any]:
    """The options in ``values`` (a mapping as YAML gives it) keyed by flat name.

    Accepts each option at the top level or under its group's key; an option given both ways
    with different values, an unknown key or a group that is not a mapping raises ConfigError.
    """
    found: dict[str, tuple[str, Any]] = {}  # flat name -> (the key as written, value)

    def walk(cls: type, values: Any, prefix: str) -> None:
        where = f"{source}: {prefix.rstrip('.')}" if prefix else source
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where} must be a mapping of option: value, got {values!r}")
        groups = _groups(cls)
        check_known_keys(values, [*config_options(cls), *groups], where, "option")
        for key, value in values.items():
            if key in groups:
                walk(groups[key], value, f"{prefix}{key}.")
                continue
            if key in found and found[key][1] != value:
                raise ConfigError(
                    f"{source}: option {key!r} is given twice, as {found[key][0]}: "
                    f"{found[key][1]!r} and as {prefix}{key}: {value!r}; give it once"
                )
            found[key] = (prefix + key, value)

    walk(cls, values, "")
    return {name: value for name, (_, value) in found.items()}


def from_options(cls: type[T], values: Mapping[str, Any], source: str) -> T:
    """An instance of the config dataclass ``cls`` from flat-named option values.

    Values are converted to the options' types (YAML and flags give strings for numbers);
    every error names ``source``.
    """
    options = config_options(cls)

    def build(cls: type, path: tuple[str, ...]) -> Any:
        kwargs = {}
        for name, group in _groups(cls).items():
            kwargs[name] = build(group, (*path, name))
        for opt in options.values():
            if opt.path[:-1] == path and opt.name in values:
                kwargs[opt.name] = _coerce(opt, values[opt.name], source)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    unknown = [k for k in values if k not in options]
    check_known_keys({k: None for k in unknown}, options, source, "option")
    return build(cls, ())


def option_values(config: Any) -> dict[str, Any]:
    """The options of the config dataclass instance ``config``, keyed by flat name, as plain
    values (enum members as their values)."""
    out = {}
    for opt in config_options(type(config)).values():
        value = config
        for name in opt.path:
            value = getattr(value, name)
        out[opt.name] = _plain(value)
    return out


def to_mapping(config: Any) -> dict[str, Any]:
    """The options of ``config`` as YAML-ready plain values, groups as nested mappings."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if is_option(f):
            value = getattr(config, f.name)
            is_group = dataclasses.is_dataclass(value) and not isinstance(value, type)
            out[f.name] = to_mapping(value) if is_group else _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _coerce(opt: Option, value: Any, source: str) -> Any:
    """``value`` converted to the type of ``opt``; enum values are left to the dataclass."""
    name, tp = opt.name, opt.type
    if value is None:
        if opt.optional:
            return None
        raise ConfigError(f"{source}: option {name!r} may not be empty")
    try:
        if typing.get_origin(tp) is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise TypeError("expected a list")
            return [str(v) for v in value]
        if tp is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise TypeError("expected true or false")
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise TypeError("expected an integer")
        if tp in (int, float, str):
            return tp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: option {name!r} = {value!r}: {exc}") from None
    return value


def add_option_arguments(parser: Any, cls: type, *, groups: bool = True) -> None:
    """One ``--flag`` per option of ``cls`` (groups walked; ``groups=False``: only its own),
    each defaulting to "not given" (``argparse.SUPPRESS``), so that only the flags given
    override a config file. ``parser``: an ArgumentParser or one of its argument groups."""
    for opt in config_options(cls).values():
        if not groups and len(opt.path) > 1:
            continue
        help_text, default = opt.help, _plain(opt.default)
        # A help text that explains its default already (or a None default) gets no second one.
        if default is not None and "default" not in help_text:
            help_text += f" (default: {default})"
        kw: dict[str, Any] = {"dest": opt.name, "default": argparse.SUPPRESS, "help": help_text}
        flags = (opt.flag, *opt.aliases)
        if opt.type is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(opt.type) is list:
            metavar = opt.metavar or ("LANG" if opt.name.endswith("languages") else "X")
            parser.add_argument(*flags, nargs="+", metavar=metavar, **kw)
        elif isinstance(opt.type, type) and issubclass(opt.type, Enum):
            choices = ",".join(str(m.value) for m in opt.type)
            parser.add_argument(*flags, metavar=f"{{{choices}}}", **kw)
        elif opt.choices:
            parser.add_argument(*flags, choices=opt.choices, **kw)
        else:
            parser.add_argument(*flags, metavar=opt.metavar or opt.name.upper(), **kw)


def flag_value(value: Any) -> Any:
    """A flag's parsed value, with one comma-separated item split (``--languages de,en`` as
    well as ``--languages de en``)."""
    if isinstance(value, list) and len(value) == 1 and "," in value[0]:
        return value[0].split(",")
    return value


def resolve_options(
    cls: type[T],
    config_file: str | None,
    overrides: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
    base_source: str | None = None,
) -> T:
    """``base`` (flat names, e.g. a preset's), then the options of ``config_file`` (YAML), then
    the flags given (``overrides``, flat names), validated into ``cls``."""
    values = dict(base or {})
    if config_file:
        values.update(flat_options(cls, read_yaml_mapping(config_file), str(config_file)))
    for key, value in overrides.items():
        values[key] = flag_value(value)
    sources = [base_source] if base and base_source else []
    sources += [str(config_file)] if config_file else []
    if overrides or not sources:
        sources.append("command line")
    return from_options(cls, values, " and ".join(sources))
