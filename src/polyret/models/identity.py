"""A name and a revision for every model polyret writes, so that tools can tell them apart.

mteb names a ``SentenceTransformer`` after ``model.model_card_data.model_name`` (else
``base_model``) and keys its result cache by that name and ``base_model_revision``. A model
loaded from a local folder has neither (sentence-transformers does not save them), so mteb calls
every such model ``no_model_name/available`` and hands the second one the first one's cached
scores.

polyret writes ``polyret_model.json`` into the folders it saves (final training models, debiased
models, the converted bundled model): a name, ``polyret/<label>``, and a revision, a digest of the
folder's files. :func:`polyret.models.load_model` and :func:`polyret.debias.load_debiased` put both
on the loaded model's card data. With plain ``SentenceTransformer(path)``, set
``model.model_card_data.model_name`` (and ``base_model_revision``) from that file yourself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret.io import write_json

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["IDENTITY_FILE", "apply_identity", "model_name", "read_identity", "write_identity"]

IDENTITY_FILE = "polyret_model.json"


def model_name(label: str) -> str:
    """``polyret/<label>``: an ``owner/name`` (what mteb requires) that is also a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")
    return f"polyret/{cleaned or 'model'}"


def folder_digest(folder: str | os.PathLike[str]) -> str:
    """sha256 (first 16 hex digits) over the relative paths and bytes of the files that make the
    model: every file but ``README.md`` and polyret's own records (``polyret_*.json``)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == "README.md" or (path.name.startswith("polyret_") and path.suffix == ".json"):
            continue
        h.update(rel.encode() + b"\0")
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()[:16]


def write_identity(folder: str | os.PathLike[str], name: str, **details: Any) -> dict[str, Any]:
    """Write ``polyret_model.json`` (name, revision, ``details``) into a finished model folder."""
    record = {"name": name, "revision": folder_digest(folder), **details}
    write_json(Path(folder) / IDENTITY_FILE, record)
    return record


def read_identity(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record :func:`write_identity` wrote, or None (not a folder polyret wrote)."""
    path = Path(folder) / IDENTITY_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if isinstance(record, dict) and record.get("name") else None


def apply_identity(
    model: SentenceTransformer, folder: str | os.PathLike[str]
) -> SentenceTransformer:
    """Name ``model`` after the folder's ``polyret_model.json`` (no change without one)."""
    record = read_identity(folder)
    if record is not None:
        model.model_card_data.model_name = record["name"]
        model.model_card_data.base_model_revision = record.get("revision")
    return model
