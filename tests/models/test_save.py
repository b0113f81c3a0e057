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


def test_a_named_model_carries_its_name_and_revision(tiny_model_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from polyret.models import load_model
    from polyret.models.identity import folder_digest, read_identity

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    save_model(model, tmp_path / "a", name="polyret/a", kind="test")
    record = read_identity(tmp_path / "a")
    assert record is not None and record["name"] == "polyret/a" and record["kind"] == "test"
    loaded = load_model(tmp_path / "a", device="cpu")
    assert loaded.model_card_data.model_name == "polyret/a"
    assert loaded.model_card_data.base_model_revision == record["revision"]
    # The revision is a digest of the files (polyret's records and README.md left out) ...
    assert folder_digest(tmp_path / "a") == record["revision"]
    (tmp_path / "a" / "README.md").write_text("# another card\n")
    assert folder_digest(tmp_path / "a") == record["revision"]
    # ... so other weights under the same name get another revision.
    with torch.no_grad():
        model[0].auto_model.embeddings.word_embeddings.weight[0, 0] += 1.0
    save_model(model, tmp_path / "b", name="polyret/a")
    assert read_identity(tmp_path / "b")["revision"] != record["revision"]  # type: ignore[index]
    # A folder polyret did not write keeps sentence-transformers' (lack of a) name.
    assert load_model(tiny_model_dir, device="cpu").model_card_data.model_name is None
