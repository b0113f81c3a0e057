"""A debiased tiny model: save, reload, and the same embeddings as transform() on the base model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polyret.debias import (
    CenteringDebiaser,
    ProjectionDebiaser,
    fit_centering,
    load_debiased,
    save_debiased_model,
)

TEXTS = ["Wo ist die Hauptstadt?", "Where is the capital?", "Где столица?", "Paris."]


@pytest.fixture(scope="module")
def base(tiny_model_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


def _encode(model, kind: str, **kwargs) -> torch.Tensor:
    encode = model.encode_query if kind == "query" else model.encode_document
    return encode(TEXTS, convert_to_tensor=True, **kwargs)


def test_centering_model_round_trip(base, calibration_texts, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    # Query and passage centroids apart, so the task must reach the module through encode_*.
    debiaser = fit_centering(base, calibration_texts, centroids="per-kind")
    assert isinstance(debiaser, CenteringDebiaser)
    assert not torch.allclose(debiaser.module.query_centroids, debiaser.module.passage_centroids)
    assert debiaser.languages == ["en", "de", "ru"]
    attached = debiaser.attach(base)
    out = save_debiased_model(base, debiaser, tmp_path / "centered", record={"note": "test"})
    loaded = load_debiased(out, device="cpu")
    trusted = SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    from polyret.models import load_model

    via_spec = load_model(out, device="cpu")  # what every polyret command uses
    for kind in ("query", "passage"):
        expected = debiaser.transform(_encode(base, kind), kind=kind)
        assert not torch.allclose(expected, _encode(base, kind), atol=1e-3)
        for model in (attached, loaded, trusted, via_spec):
            torch.testing.assert_close(_encode(model, kind), expected, atol=1e-5, rtol=0)
    # A language named at encode time reaches the module.
    forced = debiaser.transform(_encode(base, "query"), kind="query", lang="ru")
    torch.testing.assert_close(_encode(loaded, "query", lang="ru"), forced, atol=1e-5, rtol=0)
    record = json.loads((out / "polyret_debias.json").read_text())
    assert record["method"] == "center" and record["note"] == "test"
    # The base model's unused "passage" prompt key is not carried over.
    st_config = json.loads((out / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "document": "passage: "}
    # A name of its own (for mteb and other tools that key results by model).
    for model in (loaded, via_spec):
        assert model.model_card_data.model_name == "polyret/centered"


def test_centering_model_needs_polyret_loader(base, calibration_texts, tmp_path: Path) -> None:
    """sentence-transformers >= 6 refuses a non-ST module class without trust_remote_code."""
    from sentence_transformers import SentenceTransformer

    out = save_debiased_model(base, fit_centering(base, calibration_texts), tmp_path / "m")
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert types[-1] == "polyret.debias.centering.LanguageCentering"
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(out), device="cpu")


def test_projection_model_loads_as_plain_st(base, calibration_texts, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    debiaser = fit_centering(base, calibration_texts, method="project")
    assert isinstance(debiaser, ProjectionDebiaser) and debiaser.k == 2
    out = save_debiased_model(base, debiaser, tmp_path / "projected")
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types)
    assert types[-2:] == [
        "sentence_transformers.base.modules.dense.Dense",
        "sentence_transformers.base.modules.normalize.Normalize",
    ]
    loaded = SentenceTransformer(str(out), device="cpu")
    for kind in ("query", "passage"):
        expected = debiaser.transform(_encode(base, kind), kind=kind)
        torch.testing.assert_close(_encode(loaded, kind), expected, atol=1e-5, rtol=0)


def test_query_centroids_are_the_mean_query_embedding(base, calibration_texts) -> None:
    questions = [f"Wo liegt die Stadt Nummer {i}?" for i in range(12)]
    debiaser = fit_centering(base, calibration_texts, queries={"de": questions})
    plain = fit_centering(base, calibration_texts)
    mean = base.encode_query(questions, convert_to_tensor=True).mean(0)
    module, before = debiaser.module, plain.module  # type: ignore[attr-defined]
    torch.testing.assert_close(module.query_centroids[1], mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(module.passage_centroids, before.passage_centroids)
    # en and ru have no queries: their query centroid moves by de's shift.
    shift = mean - before.query_centroids[1]
    torch.testing.assert_close(
        module.query_centroids[[0, 2]], before.query_centroids[[0, 2]] + shift, atol=1e-5, rtol=0
    )
