from __future__ import annotations

import pytest
import torch

from polyret.debias import CenteringDebiaser, LanguageCentering, center, nearest_centroid
from polyret.debias.centering import UNCENTERED
from polyret.errors import ConfigError


def unit(*xs: float) -> torch.Tensor:
    v = torch.tensor(xs, dtype=torch.float32)
    return v / v.norm()


def test_center_subtracts_and_renormalizes() -> None:
    emb = torch.stack([unit(0.6, 0.8), unit(0.6, 0.8), unit(1.0, 0.0)])
    centroids = torch.tensor([[0.6, 0.0], [0.0, 0.4]])
    out = center(emb, centroids, torch.tensor([0, 1, UNCENTERED]))
    # (0.6, 0.8) - (0.6, 0) = (0, 0.8) -> (0, 1); (0.6, 0.8) - (0, 0.4) = (0.6, 0.4) -> /0.7211
    expected = torch.tensor([[0.0, 1.0], [0.6 / 0.72111, 0.4 / 0.72111], [1.0, 0.0]])
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_nearest_centroid_uses_cosine_not_distance() -> None:
    centroids = torch.tensor([[2.0, 0.0], [0.0, 0.1]])
    emb = torch.stack([unit(0.8, 0.6), unit(0.6, 0.8)])
    # Euclidean distance would put the first row nearer to the short centroid [0, 0.1].
    assert nearest_centroid(emb, centroids).tolist() == [0, 1]


def _parallel_module() -> LanguageCentering:
    # Two "languages" share content a, b and differ by an offset; queries by another offset.
    return LanguageCentering(
        ["en", "de"],
        dimension=3,
        uncentered_languages=["xx"],
        query_centroids=torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]]),
        passage_centroids=torch.tensor([[0.0, 0.3, 0.0], [0.0, -0.3, 0.0]]),
    )


def test_parallel_texts_meet_after_centering() -> None:
    module = _parallel_module()
    content = torch.tensor([[1.0, 0.0, 0.0]])
    en = content + torch.tensor([0.0, 0.0, 0.5])
    de = content + torch.tensor([0.0, 0.0, -0.5])
    q_en = module.transform(en, kind="query")
    q_de = module.transform(de, kind="query")
    torch.testing.assert_close(q_en, content)
    torch.testing.assert_close(q_de, content)
    assert module.assign(torch.cat([en, de]), kind="query") == ["en", "de"]


def test_kind_selects_centroids_and_lang_overrides_assignment() -> None:
    module = _parallel_module()
    x = torch.tensor([[1.0, 0.3, 0.0]])
    torch.testing.assert_close(
        module.transform(x, kind="passage"), unit(1.0, 0.0, 0.0).unsqueeze(0)
    )
    # Named language: the de passage centroid is subtracted even though en is nearest.
    forced = module.transform(x, kind="passage", lang="de")
    torch.testing.assert_close(forced, unit(1.0, 0.6, 0.0).unsqueeze(0))
    # Per-row languages, one left uncentered.
    rows = module.transform(torch.cat([x, x]), kind="passage", lang=["en", "xx"])
    torch.testing.assert_close(rows, torch.stack([unit(1.0, 0.0, 0.0), unit(1.0, 0.3, 0.0)]))


def test_forward_reads_task() -> None:
    module = _parallel_module()
    x = unit(1.0, 0.3, 0.5).unsqueeze(0)
    for task, kind in (("query", "query"), ("document", "passage"), (None, "passage")):
        out = module({"sentence_embedding": x.clone()}, task=task)["sentence_embedding"]
        torch.testing.assert_close(out, module.transform(x, kind=kind))
    assert not torch.allclose(
        module.transform(x, kind="query"), module.transform(x, kind="passage")
    )


@pytest.mark.parametrize(
    ("lang", "message"),
    [("fr", "language 'fr' has no centroid"), (["en"], "got 1 languages for 2 embeddings")],
)
def test_bad_languages(lang: object, message: str) -> None:
    module = _parallel_module()
    with pytest.raises(ConfigError, match=message):
        module.transform(torch.eye(3)[:2], kind="query", lang=lang)  # type: ignore[arg-type]


def test_bad_kind_and_shape() -> None:
    module = _parallel_module()
    with pytest.raises(ConfigError, match="kind must be"):
        module.transform(torch.eye(3), kind="doc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"expected embeddings \[n, 3\]"):
        module.transform(torch.eye(4), kind="query")
    with pytest.raises(ConfigError, match="unknown task"):
        module({"sentence_embedding": torch.eye(3)}, task="classify")


def test_debiaser_save_load_roundtrip(tmp_path) -> None:
    from polyret.debias import load_debiaser

    debiaser = CenteringDebiaser(_parallel_module())
    debiaser.save(tmp_path / "d")
    loaded = load_debiaser(tmp_path / "d")
    assert isinstance(loaded, CenteringDebiaser)
    assert loaded.languages == ["en", "de"]
    assert loaded.module.uncentered_languages == ["xx"]
    x = torch.randn(5, 3)
    for kind in ("query", "passage"):
        torch.testing.assert_close(loaded.transform(x, kind=kind), debiaser.transform(x, kind=kind))


def test_transform_per_language() -> None:
    debiaser = CenteringDebiaser(_parallel_module())
    emb = {"en": torch.tensor([[1.0, 0.0, 0.5]]), "de": torch.tensor([[1.0, 0.0, 0.5]])}
    nearest = debiaser.transform_per_language(emb, kind="query")
    named = debiaser.transform_per_language(emb, kind="query", name_language=True)
    torch.testing.assert_close(nearest["de"], torch.tensor([[1.0, 0.0, 0.0]]))
    torch.testing.assert_close(named["en"], torch.tensor([[1.0, 0.0, 0.0]]))
    torch.testing.assert_close(named["de"], unit(1.0, 0.0, 1.0).unsqueeze(0))
