from __future__ import annotations

import math

import pytest
import torch

from polyret.debias import ProjectionDebiaser, language_directions, projection_matrix
from polyret.errors import ConfigError


def test_directions_span_centroid_differences() -> None:
    centroids = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    u = language_directions([centroids], k=1)
    expected = torch.tensor([1.0, -1.0, 0.0]) / math.sqrt(2)
    assert torch.allclose(u[0].abs(), expected.abs(), atol=1e-6)


def test_projection_matrix_is_symmetric_idempotent() -> None:
    u = language_directions([torch.randn(4, 6, generator=torch.Generator().manual_seed(0))], k=2)
    p = projection_matrix(u)
    torch.testing.assert_close(p, p.T)
    torch.testing.assert_close(p @ p, p, atol=1e-5, rtol=0)
    torch.testing.assert_close(u @ p, torch.zeros(2, 6), atol=1e-5, rtol=0)


def test_transform_on_hand_vectors() -> None:
    debiaser = ProjectionDebiaser.from_centroids(
        {"query": {"en": torch.tensor([1.0, 0.0, 0.0]), "de": torch.tensor([0.0, 1.0, 0.0])}}
    )
    assert debiaser.k == 1
    emb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = debiaser.transform(emb, kind="query")
    s = 1 / math.sqrt(2)
    # [1, 0, 0] loses its (1, -1, 0) component: (0.5, 0.5, 0) -> (s, s, 0); [0, 0, 1] is untouched.
    torch.testing.assert_close(out, torch.tensor([[s, s, 0.0], [0.0, 0.0, 1.0]]))
    torch.testing.assert_close(debiaser.transform(emb, kind="passage"), out)


def test_two_kinds_are_centred_separately() -> None:
    # The query and passage sets differ by a constant shift along z: not a language direction.
    q = {"en": torch.tensor([1.0, 0.0, 0.0]), "de": torch.tensor([0.0, 1.0, 0.0])}
    p = {lang: v + torch.tensor([0.0, 0.0, 5.0]) for lang, v in q.items()}
    u = language_directions([torch.stack(list(q.values())), torch.stack(list(p.values()))], k=1)
    assert abs(u[0, 2].item()) < 1e-6
    with pytest.raises(ConfigError, match="span 1"):
        language_directions([torch.stack(list(q.values())), torch.stack(list(p.values()))], k=2)


def test_save_load_roundtrip(tmp_path) -> None:
    from polyret.debias import load_debiaser

    centroids = {"passage": {f"l{i}": torch.randn(5) for i in range(4)}}
    debiaser = ProjectionDebiaser.from_centroids(centroids, k=2)
    loaded = load_debiaser(debiaser.save(tmp_path / "p"))
    assert isinstance(loaded, ProjectionDebiaser) and loaded.k == 2
    x = torch.randn(3, 5)
    torch.testing.assert_close(
        loaded.transform(x, kind="query"), debiaser.transform(x, kind="query")
    )
