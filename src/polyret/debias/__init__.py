"""Language debiasing without training: per-language centering or language-subspace projection.

Typical use::

    from polyret.debias import fit_centering, load_calibration

    calibration = load_calibration("ntrex", languages=["de", "en", "zh"], sentences=300)
    debiaser = fit_centering(model, calibration)              # method="center"
    q = debiaser.transform(query_emb, kind="query")           # [n, d] -> [n, d]
    debiased_model = debiaser.attach(model)                   # encode_query / encode_document as usual
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from polyret.models.resolve import register_module_loader

if TYPE_CHECKING:
    from polyret.debias.calibration import (
        DEFAULT_SENTENCES,
        ISO_TO_NTREX,
        NTREX_SOURCE,
        XQUAD_R_LANGUAGES,
        Calibration,
        load_calibration,
        load_queries,
    )
    from polyret.debias.centering import (
        CenteringDebiaser,
        LanguageCentering,
        center,
        nearest_centroid,
    )
    from polyret.debias.debiaser import (
        KINDS,
        Debiaser,
        Kind,
        load_debiaser,
    )
    from polyret.debias.fit import (
        centroids_from_embeddings,
        encode_calibration,
        fit_centering,
        fit_from_embeddings,
        load_debiased,
        module_classes,
        query_centroids,
        save_debiased_model,
    )
    from polyret.debias.options import (
        CentroidSource,
        DebiasOptions,
        Method,
    )
    from polyret.debias.projection import (
        ProjectionDebiaser,
        language_directions,
        projection_matrix,
    )

# Where each public name lives; imported on first use, so that ``polyret.debias.options``
# (what ``polyret debias --help`` reads) loads no torch.
_EXPORTS = {
    "DEFAULT_SENTENCES": "calibration",
    "ISO_TO_NTREX": "calibration",
    "NTREX_SOURCE": "calibration",
    "XQUAD_R_LANGUAGES": "calibration",
    "Calibration": "calibration",
    "load_calibration": "calibration",
    "load_queries": "calibration",
    "CenteringDebiaser": "centering",
    "LanguageCentering": "centering",
    "center": "centering",
    "nearest_centroid": "centering",
    "KINDS": "debiaser",
    "Debiaser": "debiaser",
    "Kind": "debiaser",
    "load_debiaser": "debiaser",
    "centroids_from_embeddings": "fit",
    "encode_calibration": "fit",
    "fit_centering": "fit",
    "fit_from_embeddings": "fit",
    "load_debiased": "fit",
    "module_classes": "fit",
    "query_centroids": "fit",
    "save_debiased_model": "fit",
    "CentroidSource": "options",
    "DebiasOptions": "options",
    "Method": "options",
    "ProjectionDebiaser": "projection",
    "language_directions": "projection",
    "projection_matrix": "projection",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'polyret.debias' has no attribute {name!r}")
    return getattr(importlib.import_module(f"polyret.debias.{_EXPORTS[name]}"), name)


def _load_debiased(*args: Any, **kwargs: Any) -> Any:
    from polyret.debias.fit import load_debiased

    return load_debiased(*args, **kwargs)


# polyret.models.load_model loads a debiased folder through this (models never imports debias).
register_module_loader("polyret.debias.", _load_debiased)

__all__ = [
    "DEFAULT_SENTENCES",
    "ISO_TO_NTREX",
    "KINDS",
    "NTREX_SOURCE",
    "XQUAD_R_LANGUAGES",
    "Calibration",
    "CenteringDebiaser",
    "CentroidSource",
    "DebiasOptions",
    "Debiaser",
    "Kind",
    "LanguageCentering",
    "Method",
    "ProjectionDebiaser",
    "center",
    "centroids_from_embeddings",
    "encode_calibration",
    "fit_centering",
    "fit_from_embeddings",
    "language_directions",
    "load_calibration",
    "load_debiased",
    "load_debiaser",
    "load_queries",
    "module_classes",
    "nearest_centroid",
    "projection_matrix",
    "query_centroids",
    "save_debiased_model",
]
