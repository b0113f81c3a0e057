"""A trained or debiased model's README says what it is (read back as a user would)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lareqa_fixture import write_parallel_lareqa
from polyret.models.card import base_model_id, insert_section
from polyret.samplers import SamplerConfig
from polyret.training.config import TrainConfig
from polyret.training.trainer import train


def _front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n"), text[:200]
    return yaml.safe_load(text.split("---\n")[1])


def test_a_trained_models_card_names_base_data_languages_and_recipe(
    bundled_stand_in: Path, tmp_path: Path
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de", "es"), articles=8)
    config = TrainConfig(
        dataset=str(data),
        output_dir=str(tmp_path / "run"),
        sampler=SamplerConfig("hybrid", 0.25),
        batch_size=4,
        max_steps=3,
        dev_fraction=0.25,
        exclude_titles=[],
        device="cpu",
        precision="fp32",
    )
    result = train(config)
    readme = result.final_model / "README.md"
    meta = _front_matter(readme)
    assert meta["base_model"] == "intfloat/multilingual-e5-small"
    assert meta["language"] == ["de", "en", "es"]
    assert meta["license"] == "mit"
    assert "polyret" in meta["tags"] and "polyret-hybrid" in meta["tags"]
    text = readme.read_text(encoding="utf-8")
    assert "Unnamed Dataset" not in text and "Unknown" not in text.split("## Training (polyret)")[0]
    section = text.split("## Training (polyret)")[1].split("\n## ")[0]
    for needle in (
        "intfloat/multilingual-e5-small (`bundled:multilingual-e5-small`)",
        "languages de, en, es",
        "hybrid: α = 0.25 of the batches monolingual, 0.75 cross-lingual",
        "3 steps of 4 pairs, learning rate 5e-05, scale 100",
        "precision fp32",
        "Dev split scores: mono mAP",
    ):
        assert needle in section, needle
    # The card is what sentence-transformers loads back, too.
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(str(result.final_model), device="cpu")
    assert loaded.encode_query(["Which river?"]).shape[0] == 1


def test_base_model_ids() -> None:
    assert base_model_id("bundled:multilingual-e5-small") == "intfloat/multilingual-e5-small"
    assert base_model_id("BAAI/bge-m3") == "BAAI/bge-m3"
    assert base_model_id("/no/such/folder") is None


def test_insert_section_replaces_an_earlier_one(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\na: 1\n---\n\n# Title\n\nBody\n\n## Usage\n\nx\n")
    insert_section(tmp_path, ["## Training (polyret)", "", "- one", ""])
    insert_section(tmp_path, ["## Training (polyret)", "", "- two", ""])
    text = (tmp_path / "README.md").read_text()
    assert text.count("## Training (polyret)") == 1 and "- two" in text and "- one" not in text
    assert text.index("# Title") < text.index("- two") < text.index("## Usage")


@pytest.mark.parametrize("method", ["center", "project"])
def test_a_debiased_folder_has_front_matter(method: str) -> None:
    from polyret.debias.fit import model_card

    class Fake:
        languages = ("de", "en")

    fake = Fake()
    fake.method = method  # type: ignore[attr-defined]
    text = model_card(fake, "polyret/e5-centered", "bundled:multilingual-e5-small")  # type: ignore[arg-type]
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["base_model"] == "intfloat/multilingual-e5-small"
    assert meta["language"] == ["de", "en"] and "polyret" in meta["tags"]


def test_saved_models_keep_the_users_umask(tiny_model_dir: Path, tmp_path: Path) -> None:
    import os
    import stat

    from sentence_transformers import SentenceTransformer

    from polyret.io import atomic_path
    from polyret.models.save import save_model

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "saved") as tmp:
            save_model(model, tmp)
    finally:
        os.umask(old)
    folder = tmp_path / "saved"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    weights = next(folder.glob("*.safetensors"))
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644  # readable by the group and others
