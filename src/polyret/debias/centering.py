"""Language centering: subtract the embedding's language centroid, then renormalize.

Each language ``l`` has a centroid ``c_l`` (the mean embedding of plain calibration sentences in
``l``), one per input kind (query or passage, since the model encodes them with different
prompts). An embedding ``x`` (unit length) of language ``l`` becomes ``(x - c_l) / |x - c_l|``.
When the language is not given, it is the nearest centroid by cosine.

:class:`LanguageCentering` is the sentence-transformers module that does this at encode time;
it reads ``task`` (``encode_query`` passes "query", ``encode_document`` "document") and an
optional ``lang`` keyword from ``model.encode``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from sentence_transformers.base.modules.module import Module
from torch import Tensor

from polyret.debias.debiaser import KINDS, Debiaser, Kind, check_kind, kind_for_task
from polyret.errors import ConfigError

UNCENTERED = -1  # language index of rows left as they are


def nearest_centroid(emb: Tensor, centroids: Tensor) -> Tensor:
    """Index ``[n]`` of the centroid ``[L, d]`` with the highest cosine to each row of ``emb`` ``[n, d]``.

    Ties go to the lowest index.
    """
    return (F.normalize(emb, dim=-1) @ F.normalize(centroids, dim=-1).T).argmax(dim=-1)


def center(emb: Tensor, centroids: Tensor, index: Tensor) -> Tensor:
    """Subtract ``centroids[index]`` from ``emb`` ``[n, d]`` and L2-normalize the rows.

    ``index`` ``[n]`` holds a centroid row per embedding, or ``UNCENTERED`` to only renormalize.
    """
    offsets = centroids[index.clamp(min=0)] * (index >= 0).unsqueeze(-1).to(centroids.dtype)
    return F.normalize(emb - offsets, p=2, dim=-1)


class LanguageCentering(Module):
    """Sentence-transformers module: per-language centering of ``sentence_embedding``.

    Args:
        languages: language codes, one per centroid row.
        dimension: embedding size ``d``.
        uncentered_languages: languages without calibration text; a caller that names one
            (``lang=...``) gets the embedding only renormalized.
        default_kind: the centroids used when ``encode`` gets no ``task`` (plain ``encode``).
        query_centroids, passage_centroids: ``[L, d]``; zeros when None (filled by ``load``).
    """

    config_keys: ClassVar[list[str]] = [
        "languages",
        "dimension",
        "uncentered_languages",
        "default_kind",
    ]
    forward_kwargs: ClassVar[set[str]] = {"task", "lang"}

    def __init__(
        self,
        languages: Sequence[str],
        dimension: int,
        uncentered_languages: Sequence[str] = (),
        default_kind: Kind = "passage",
        query_centroids: Tensor | None = None,
        passage_centroids: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.languages = list(languages)
        self.dimension = int(dimension)
        self.uncentered_languages = list(uncentered_languages)
        self.default_kind = check_kind(default_kind)
        if not self.languages:
            raise ConfigError("language centering needs at least one calibrated language")
        if len(set(self.languages)) != len(self.languages):
            raise ConfigError(f"repeated language in {self.languages}")
        if overlap := set(self.languages) & set(self.uncentered_languages):
            raise ConfigError(f"languages both calibrated and uncentered: {sorted(overlap)}")
        shape = (len(self.languages), self.dimension)
        for kind, given in (("query", query_centroids), ("passage", passage_centroids)):
            value = (
                torch.zeros(shape) if given is None else given.detach().to(torch.float32).clone()
            )
            if tuple(value.shape) != shape:
                raise ConfigError(
                    f"{kind} centroids have shape {tuple(value.shape)}, expected {shape}"
                )
            self.register_buffer(f"{kind}_centroids", value)
        self._index = {lang: i for i, lang in enumerate(self.languages)}

    def centroids(self, kind: Kind) -> Tensor:
        """The centroids ``[L, d]`` of ``kind`` inputs."""
        return self.query_centroids if check_kind(kind) == "query" else self.passage_centroids

    def language_index(
        self, emb: Tensor, *, kind: Kind, lang: str | Sequence[str] | None = None
    ) -> Tensor:
        """Centroid row ``[n]`` per embedding: the given language's, else the nearest one."""
        n = emb.shape[0]
        if lang is None:
            return nearest_centroid(emb, self.centroids(kind).to(emb.device, emb.dtype))
        langs = [lang] * n if isinstance(lang, str) else list(lang)
        if len(langs) != n:
            raise ConfigError(f"got {len(langs)} languages for {n} embeddings")
        index = []
        for code in langs:
            if code in self._index:
                index.append(self._index[code])
            elif code in self.uncentered_languages:
                index.append(UNCENTERED)
            else:
                raise ConfigError(
                    f"language {code!r} has no centroid; calibrated: {', '.join(self.languages)}"
                )
        return torch.tensor(index, dtype=torch.long, device=emb.device)

    def assign(self, emb: Tensor, *, kind: Kind) -> list[str]:
        """The nearest-centroid language of each row of ``emb`` ``[n, d]``."""
        return [self.languages[i] for i in self.language_index(emb, kind=kind).tolist()]

    def transform(
        self, emb: Tensor, *, kind: Kind, lang: str | Sequence[str] | None = None
    ) -> Tensor:
        """Centered, renormalized ``[n, d]``; see :meth:`language_index` for ``lang``."""
        if emb.ndim != 2 or emb.shape[1] != self.dimension:
            raise ConfigError(f"expected embeddings [n, {self.dimension}], got {list(emb.shape)}")
        index = self.language_index(emb, kind=kind, lang=lang)
        return center(emb, self.centroids(kind).to(emb.device, emb.dtype), index)

    def forward(
        self,
        features: dict[str, Any],
        task: str | None = None,
        lang: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        kind = kind_for_task(task, self.default_kind)
        features["sentence_embedding"] = self.transform(
            features["sentence_embedding"], kind=kind, lang=lang
        )
        return features

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def save(
        self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=True)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        **kwargs: Any,
    ) -> LanguageCentering:
        hub_kwargs = {
            "subfolder": subfolder,
            "token": token,
            "cache_folder": cache_folder,
            "revision": revision,
            "local_files_only": local_files_only,
        }
        config = cls.load_config(model_name_or_path, **hub_kwargs)
        module = cls(**{key: config[key] for key in cls.config_keys if key in config})
        cls.load_torch_weights(model_name_or_path, model=module, **hub_kwargs)
        return module


class CenteringDebiaser(Debiaser):
    """Per-language centering (see :class:`LanguageCentering`, which holds the centroids)."""

    method = "center"

    def __init__(self, module: LanguageCentering) -> None:
        self.module = module

    @classmethod
    def from_centroids(
        cls,
        centroids: dict[Kind, dict[str, Tensor]],
        *,
        uncentered_languages: Sequence[str] = (),
        default_kind: Kind = "passage",
    ) -> CenteringDebiaser:
        """Build from ``centroids[kind][lang]`` ``[d]`` for both kinds (the same languages)."""
        if set(centroids) != set(KINDS):
            raise ConfigError(f"need query and passage centroids, got {sorted(centroids)}")
        languages = list(centroids["query"])
        if list(centroids["passage"]) != languages:
            raise ConfigError("query and passage centroids must cover the same languages in order")
        stacked = {
            kind: torch.stack([centroids[kind][lang] for lang in languages]) for kind in KINDS
        }
        module = LanguageCentering(
            languages,
            dimension=stacked["query"].shape[1],
            uncentered_languages=uncentered_languages,
            default_kind=default_kind,
            query_centroids=stacked["query"],
            passage_centroids=stacked["passage"],
        )
        return cls(module)

    @property
    def languages(self) -> list[str]:  # type: ignore[override]
        return list(self.module.languages)

    def transform(
        self, emb: Tensor, *, kind: Kind, lang: str | Sequence[str] | None = None
    ) -> Tensor:
        return self.module.transform(emb, kind=check_kind(kind), lang=lang)

    def assign(self, emb: Tensor, *, kind: Kind) -> list[str]:
        """Nearest-centroid language per row of ``emb`` ``[n, d]``."""
        return self.module.assign(emb, kind=check_kind(kind))

    def st_modules(self) -> list[LanguageCentering]:
        return [copy.deepcopy(self.module)]

    def _tensors(self) -> dict[str, Tensor]:
        return {
            "query_centroids": self.module.query_centroids,
            "passage_centroids": self.module.passage_centroids,
        }

    def _config(self) -> dict[str, Any]:
        return self.module.get_config_dict()

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, Tensor]) -> CenteringDebiaser:
        try:
            module = LanguageCentering(
                config["languages"],
                config["dimension"],
                uncentered_languages=config.get("uncentered_languages", ()),
                default_kind=config.get("default_kind", "passage"),
                query_centroids=tensors["query_centroids"],
                passage_centroids=tensors["passage_centroids"],
            )
        except KeyError as exc:
            raise ConfigError(f"saved centering debiaser lacks {exc}") from None
        return cls(module)
