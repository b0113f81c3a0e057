"""Keep a model's architecture through every save: final models, checkpoints, debiased models.

sentence-transformers does not write the ``model_kwargs`` a model was loaded with. A BERT built
with ``add_pooling_layer=False`` (the bundled model) is saved without pooler weights and without
that setting, so a plain reload builds a fresh random pooler (a "MISSING weights" load report),
and resuming a checkpoint of it fails with unexpected ``pooler`` keys.
:func:`remember_architecture` stores the setting on the loaded ``Transformer`` module itself, so
that every later ``model.save`` (the trainer's checkpoints included) writes it into
``sentence_bert_config.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "backbone_kwargs",
    "remember_architecture",
    "save_model",
    "standard_prompts",
    "weight_names",
]


def _model_kwargs(module: Any) -> dict[str, Any] | None:
    """The ``model_kwargs`` that rebuild ``module``'s backbone as it is, or None if none needed."""
    auto_model = getattr(module, "auto_model", None)
    if auto_model is not None and hasattr(auto_model, "pooler") and auto_model.pooler is None:
        return {"add_pooling_layer": False}
    return None


def remember_architecture(model: SentenceTransformer) -> SentenceTransformer:
    """Make every later ``model.save`` record what rebuilds the backbone (no pooler: no pooler).

    ``Transformer.get_config_dict`` saves the attributes named in ``config_keys``; an instance
    copy of that list with ``model_kwargs`` added puts the setting in ``sentence_bert_config.json``,
    which ``SentenceTransformer(path)`` passes on to ``from_pretrained``.
    """
    for module in model:
        kwargs = _model_kwargs(module)
        if kwargs is None or not hasattr(module, "config_keys"):
            continue
        saved = dict(getattr(module, "model_kwargs", None) or {})
        saved.update(kwargs)
        module.model_kwargs = saved
        if "model_kwargs" not in module.config_keys:
            module.config_keys = [*module.config_keys, "model_kwargs"]
    return model


def standard_prompts(model: SentenceTransformer) -> SentenceTransformer:
    """Keep the passage prompt under sentence-transformers' name for it, ``document``, only.

    ``encode_document`` reads ``document`` first (then ``passage``, ``corpus``), and so does
    polyret. A ``passage`` key beside an equal ``document`` one is unused, and tools that check
    prompt names (mteb) warn about it on every load; it is dropped (or renamed to ``document``
    when that is missing). A ``passage`` prompt that differs from ``document`` is kept.
    """
    prompts = model.prompts
    if "passage" in prompts and prompts.get("document", prompts["passage"]) == prompts["passage"]:
        prompts["document"] = prompts.pop("passage")
    return model


def save_model(
    model: SentenceTransformer,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    **details: Any,
) -> Path:
    """``model.save(path)`` with the architecture remembered (see :func:`remember_architecture`)
    and the prompts under their standard names (see :func:`standard_prompts`).

    ``name`` (``polyret/...``, see :mod:`polyret.models.identity`): the model's name, written with
    a revision and ``details`` into ``polyret_model.json`` and set on ``model``'s card data.
    """
    from polyret.models.identity import write_identity

    path = Path(path)
    if name is not None:
        model.model_card_data.model_name = name  # the title of sentence-transformers' README
        model.model_card_data.base_model_revision = None
    standard_prompts(remember_architecture(model)).save(str(path))
    if name is not None:
        record = write_identity(path, name, **details)
        model.model_card_data.base_model_revision = record["revision"]
    return path


def weight_names(folder: str | os.PathLike[str]) -> set[str] | None:
    """Tensor names in the ``*.safetensors`` files of ``folder`` (headers only), or None if none."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    names: set[str] = set()
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            names.update(f.keys())
    return names


def backbone_kwargs(model: SentenceTransformer) -> dict[str, Any]:
    """The ``model_kwargs`` :func:`remember_architecture` records for the first module."""
    return dict(_model_kwargs(model[0]) or {})
