"""The common interface of the two debiasing methods, and their saved form.

A :class:`Debiaser` maps embeddings ``[n, d]`` to debiased, L2-normalized embeddings ``[n, d]``.
It applies to embeddings already computed (``transform``, e.g. the query and candidate tensors of
an evaluation, so base and debiased scores come from one encoding pass) or as sentence-transformers
modules appended to a model (``attach``), so a saved model debiases at encode time.
"""

from __future__ import annotations

import dataclasses
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from polyret.errors import ConfigError, DataError
from polyret.io import atomic_path

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import Tensor, nn

    from polyret.evaluation.lareqa import LareqaEmbeddings

Kind = Literal["query", "passage"]
KINDS: tuple[Kind, ...] = ("query", "passage")

CONFIG_FILE = "debiaser.json"
WEIGHTS_FILE = "debiaser.safetensors"

# sentence-transformers task names (encode_query -> "query", encode_document -> "document").
_TASK_KIND: dict[str, Kind] = {
    "query": "query",
    "document": "passage",
    "passage": "passage",
    "corpus": "passage",
}


def kind_for_task(task: str | None, default: Kind) -> Kind:
    """Map a sentence-transformers ``task`` (None when the caller gave none) to an input kind."""
    if task is None:
        return default
    kind = _TASK_KIND.get(task)
    if kind is None:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(_TASK_KIND)}")
    return kind


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ConfigError(f"kind must be 'query' or 'passage', got {kind!r}")
    return kind  # type: ignore[return-value]


class Debiaser(ABC):
    """Removes the language signal from embeddings without training.

    A subclass registers itself under its ``method`` name, which :func:`load_debiaser` reads
    back from a saved folder (the package imports every built-in one).
    """

    method: ClassVar[str]
    languages: list[str]
    registry: ClassVar[dict[str, type[Debiaser]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = cls.__dict__.get("method")
        if method is not None:
            if method in Debiaser.registry and Debiaser.registry[method] is not cls:
                raise TypeError(
                    f"two debiasers named {method!r}: {Debiaser.registry[method]} and {cls}"
                )
            Debiaser.registry[method] = cls

    @abstractmethod
    def transform(
        self, emb: Tensor, *, kind: Kind, lang: str | Sequence[str] | None = None
    ) -> Tensor:
        """Debias ``emb`` ``[n, d]`` (``kind``: how it was encoded) and return ``[n, d]``, unit rows.

        ``lang`` is the language of every row (a str) or of each row (a sequence of n); None
        lets the method decide (centering: nearest centroid; projection ignores it).
        """

    def transform_per_language(
        self, emb: Mapping[str, Tensor], *, kind: Kind, name_language: bool = False
    ) -> dict[str, Tensor]:
        """Apply :meth:`transform` to ``emb[lang]`` ``[n_lang, d]`` of each language.

        ``name_language``: pass each key as ``lang`` (the language is known) instead of letting
        the method decide; centering then needs a centroid (or an uncentered entry) per key.
        """
        return {
            lang: self.transform(e, kind=kind, lang=lang if name_language else None)
            for lang, e in emb.items()
        }

    def transform_lareqa(self, embeddings: LareqaEmbeddings) -> LareqaEmbeddings:
        """The same LAReQA encoding with queries and candidates debiased (nearest-centroid language)."""
        return dataclasses.replace(
            embeddings,
            queries=self.transform_per_language(embeddings.queries, kind="query"),
            candidates=self.transform_per_language(embeddings.candidates, kind="passage"),
        )

    @abstractmethod
    def st_modules(self) -> list[nn.Module]:
        """Fresh sentence-transformers modules that apply this debiaser after the model's output."""

    @abstractmethod
    def _tensors(self) -> dict[str, Tensor]: ...

    @abstractmethod
    def _config(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, Tensor]) -> Debiaser: ...

    def attach(self, model: SentenceTransformer) -> SentenceTransformer:
        """A model that runs ``model``'s modules (shared, not copied) and then this debiaser."""
        from sentence_transformers import SentenceTransformer

        modules = [*model, *self.st_modules()]
        debiased = SentenceTransformer(
            modules=modules,
            device=str(model.device),
            prompts=dict(model.prompts),
            default_prompt_name=model.default_prompt_name,
            similarity_fn_name=model.similarity_fn_name,
            truncate_dim=model.truncate_dim,
        )
        return debiased

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the debiaser alone (``debiaser.json`` + ``debiaser.safetensors``) to folder ``path``."""
        from safetensors.torch import save_file

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.mkdir()
            config = {"method": self.method, **self._config()}
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            tensors = {k: v.detach().to("cpu").contiguous() for k, v in self._tensors().items()}
            save_file(tensors, str(tmp / WEIGHTS_FILE))
        return path


def load_debiaser(path: str | os.PathLike[str]) -> Debiaser:
    """Load a debiaser written by :meth:`Debiaser.save`."""
    from safetensors.torch import load_file

    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise DataError(f"no {CONFIG_FILE} here: not a saved debiaser", path=path)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc}", path=config_path) from None
    classes = Debiaser.registry
    method = config.pop("method", None)
    if method not in classes:
        raise DataError(
            f"unknown method {method!r}; known: {', '.join(classes)}",
            path=config_path,
            field="method",
        )
    return classes[method]._from_saved(config, load_file(str(path / WEIGHTS_FILE)))
