"""Language-subspace projection: remove the directions along which language centroids differ.

With ``C`` ``[L, d]`` the language centroids (of one or both input kinds, each kind centred on
its own mean), the top ``k`` right singular vectors ``U`` ``[k, d]`` of the centred centroids span
the language subspace; every embedding is mapped by the fixed ``P = I - Uᵀ U`` and renormalized.
``P`` is one linear map for queries and passages alike, saved as a plain sentence-transformers
``Dense`` module (identity activation, no bias) followed by ``Normalize``: a model debiased this
way loads with sentence-transformers alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polyret.debias.debiaser import Debiaser, Kind, check_kind
from polyret.errors import ConfigError


def language_directions(centroid_sets: Sequence[Tensor], k: int) -> Tensor:
    """Top ``k`` orthonormal directions ``[k, d]`` of the centroid differences.

    ``centroid_sets``: one ``[L, d]`` matrix per input kind; each is centred on its own mean, so
    the offset between kinds is not taken for a language direction.
    """
    centred = torch.cat(
        [c.to(torch.float64) - c.to(torch.float64).mean(0, keepdim=True) for c in centroid_sets]
    )
    rank = int(torch.linalg.matrix_rank(centred).item())
    if not 1 <= k <= rank:
        raise ConfigError(f"k={k} directions asked, but the centroid differences span {rank}")
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return vh[:k].to(torch.float32)


def projection_matrix(directions: Tensor) -> Tensor:
    """``P = I - Uᵀ U`` ``[d, d]`` for orthonormal rows ``U`` ``[k, d]`` (symmetric, idempotent)."""
    d = directions.shape[1]
    u = directions.to(torch.float64)
    return (torch.eye(d, dtype=torch.float64) - u.T @ u).to(torch.float32)


class ProjectionDebiaser(Debiaser):
    """Projects out the language subspace ``directions`` ``[k, d]`` and renormalizes."""

    method = "project"

    def __init__(self, directions: Tensor, languages: Sequence[str]) -> None:
        if directions.ndim != 2 or directions.shape[0] < 1:
            raise ConfigError(f"directions must be [k >= 1, d], got {list(directions.shape)}")
        self.directions = directions.detach().to(torch.float32).clone()
        self.languages = list(languages)
        self.matrix = projection_matrix(self.directions)

    @classmethod
    def from_centroids(
        cls, centroids: dict[Kind, dict[str, Tensor]], *, k: int | None = None
    ) -> ProjectionDebiaser:
        """Fit from ``centroids[kind][lang]`` ``[d]`` (kinds: those present); ``k`` defaults to L - 1."""
        sets = []
        languages: list[str] = []
        for kind, per_lang in centroids.items():
            check_kind(kind)
            if len(per_lang) < 2:
                raise ConfigError("projection needs centroids of at least two languages")
            languages = languages or list(per_lang)
            sets.append(torch.stack(list(per_lang.values())))
        if not sets:
            raise ConfigError("no centroids to fit a projection on")
        k = len(languages) - 1 if k is None else k
        return cls(language_directions(sets, k), languages)

    @property
    def k(self) -> int:
        return self.directions.shape[0]

    def transform(
        self, emb: Tensor, *, kind: Kind, lang: str | Sequence[str] | None = None
    ) -> Tensor:
        """``[n, d]`` -> ``normalize(emb P)``; ``kind`` and ``lang`` do not change the map."""
        check_kind(kind)
        if emb.ndim != 2 or emb.shape[1] != self.matrix.shape[0]:
            raise ConfigError(
                f"expected embeddings [n, {self.matrix.shape[0]}], got {list(emb.shape)}"
            )
        return F.normalize(emb @ self.matrix.to(emb.device, emb.dtype), p=2, dim=-1)

    def st_modules(self) -> list[nn.Module]:
        from sentence_transformers.base.modules.dense import Dense
        from sentence_transformers.base.modules.normalize import Normalize

        d = self.matrix.shape[0]
        # nn.Linear computes x Wᵀ; P is symmetric, so W = P.
        dense = Dense(
            d, d, bias=False, activation_function=nn.Identity(), init_weight=self.matrix.clone()
        )
        return [dense, Normalize()]

    def _tensors(self) -> dict[str, Tensor]:
        return {"directions": self.directions}

    def _config(self) -> dict[str, Any]:
        return {"languages": self.languages, "k": self.k, "dimension": int(self.matrix.shape[0])}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, Tensor]) -> ProjectionDebiaser:
        if "directions" not in tensors:
            raise ConfigError("saved projection debiaser lacks its directions")
        return cls(tensors["directions"], config.get("languages", []))
