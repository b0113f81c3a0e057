from __future__ import annotations

import pytest
import torch

from polyret.debias import fit_from_embeddings, language_directions, query_centroids
from polyret.errors import ConfigError


def t(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float32)


def test_query_centroids_transfer_the_mean_shift() -> None:
    base = {"en": t(1, 0, 0), "de": t(0, 1, 0), "ru": t(0, 0, 1)}
    means = {"en": t(1, 0, 1), "de": t(0, 1, 2), "fr": t(9, 9, 9)}  # fr is not calibrated
    out, transferred = query_centroids(base, means)
    assert list(out) == ["en", "de", "ru"] and transferred == ["ru"]
    torch.testing.assert_close(out["en"], t(1, 0, 1))
    torch.testing.assert_close(out["de"], t(0, 1, 2))
    torch.testing.assert_close(out["ru"], t(0, 0, 2.5))  # base + mean of (0,0,1) and (0,0,2)
    with pytest.raises(ConfigError, match="cover none of the calibrated languages en"):
        query_centroids({"en": t(1, 0, 0)}, {"de": t(0, 1, 0)})


def test_fit_with_queries_keeps_passage_centroids() -> None:
    calib = {
        "query": {"en": t(1, 0, 0).expand(4, 3), "de": t(0, 1, 0).expand(4, 3)},
        "passage": {"en": t(3, 0, 0).expand(4, 3), "de": t(0, 3, 0).expand(4, 3)},
    }
    queries = {"en": torch.stack([t(0, 0, 1), t(0, 0, 3)])}  # mean (0, 0, 2)
    debiaser = fit_from_embeddings(calib, queries=queries)  # pooled centroids (2,0,0), (0,2,0)
    module = debiaser.module  # type: ignore[attr-defined]
    torch.testing.assert_close(module.passage_centroids, torch.stack([t(2, 0, 0), t(0, 2, 0)]))
    # en: its queries' mean; de: pooled + en's shift (0,0,2) - (2,0,0).
    torch.testing.assert_close(module.query_centroids, torch.stack([t(0, 0, 2), t(-2, 2, 2)]))
    # project with queries: the query and the passage centroid sets are centred apart, so
    # queries of both languages add a direction of their own.
    both = {"en": queries["en"], "de": torch.stack([t(0, 0, -2)])}
    projection = fit_from_embeddings(calib, method="project", queries=both, k=2)
    sets = [torch.stack([t(0, 0, 2), t(0, 0, -2)]), module.passage_centroids]
    torch.testing.assert_close(projection.directions, language_directions(sets, 2))  # type: ignore[attr-defined]


def test_debiasers_register_themselves_by_method_name() -> None:
    from polyret.debias import CenteringDebiaser, Debiaser, ProjectionDebiaser

    assert Debiaser.registry["center"] is CenteringDebiaser
    assert Debiaser.registry["project"] is ProjectionDebiaser
    with pytest.raises(TypeError, match="two debiasers named 'center'"):

        class Another(CenteringDebiaser):
            method = "center"  # a second class under a taken name is refused
