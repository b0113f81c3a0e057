"""What polyret's saved models carry: the prompts under sentence-transformers' names."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from polyret.models.save import save_model

TEXTS = ["Paris is the capital of France.", "Wo ist die Hauptstadt?"]


def _saved_prompts(folder: Path) -> dict[str, str]:
    return json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]


def test_the_passage_prompt_is_saved_as_document_only(tiny_model_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    assert model.prompts["passage"] == model.prompts["document"] == "passage: "
    before = model.encode_document(TEXTS, convert_to_tensor=True)
    save_model(model, tmp_path / "m")
    assert _saved_prompts(tmp_path / "m") == {"query": "query: ", "document": "passage: "}
    again = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    torch.testing.assert_close(again.encode_document(TEXTS, convert_to_tensor=True), before)


def test_a_passage_prompt_alone_becomes_document_and_a_different_one_stays(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    model.prompts = {"query": "q: ", "passage": "p: "}
    save_model(model, tmp_path / "alone")
    assert _saved_prompts(tmp_path / "alone") == {"query": "q: ", "document": "p: "}
    model.prompts = {"query": "q: ", "passage": "p: ", "document": "d: "}
    save_model(model, tmp_path / "both")
    assert _saved_prompts(tmp_path / "both") == {
        "query": "q: ",
        "passage": "p: ",
        "document": "d: ",
    }
