"""Language debiasing without training: per-language centering or language-subspace projection.

Typical use::

    from polyret.debias import fit_centering, load_calibration

    calibration = load_calibration("ntrex", languages=["de", "en", "zh"], sentences=300)
    debiaser = fit_centering(model, calibration)              # method="center"
    q = debiaser.transform(query_emb, kind="query")           # [n, d] -> [n, d]
    debiased_model = debiaser.attach(model)                   # encode_query / encode_document as usual
"""

from polyret.debias.calibration import (
    DEFAULT_SENTENCES,
    ISO_TO_NTREX,
    NTREX_SOURCE,
    XQUAD_R_LANGUAGES,
    Calibration,
    load_calibration,
    load_queries,
)
from polyret.debias.centering import CenteringDebiaser, LanguageCentering, center, nearest_centroid
from polyret.debias.debiaser import KINDS, Debiaser, Kind, load_debiaser
from polyret.debias.fit import (
    CentroidSource,
    Method,
    centroids_from_embeddings,
    encode_calibration,
    fit_centering,
    fit_from_embeddings,
    load_debiased,
    module_classes,
    query_centroids,
    save_debiased_model,
)
from polyret.debias.projection import ProjectionDebiaser, language_directions, projection_matrix
from polyret.models.resolve import register_module_loader

# polyret.models.load_model loads a debiased folder through this (models never imports debias).
register_module_loader("polyret.debias.", load_debiased)

__all__ = [
    "DEFAULT_SENTENCES",
    "ISO_TO_NTREX",
    "KINDS",
    "NTREX_SOURCE",
    "XQUAD_R_LANGUAGES",
    "Calibration",
    "CenteringDebiaser",
    "CentroidSource",
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
