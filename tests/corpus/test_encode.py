from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from polyret.corpus.encode import EncodeConfig, encode_corpus, encode_queries, passage_text
from polyret.corpus.shards import load_encoded
from polyret.data.beir import Document
from polyret.errors import ConfigError, DataError
from tiny_model import build_tiny_model


class CountingModel(SentenceTransformer):
    """The real tiny model, counting the passages it is asked to encode."""

    encoded_documents = 0

    def encode_document(self, inputs, **kwargs):
        self.encoded_documents += len(inputs)
        return super().encode_document(inputs, **kwargs)


class Crash(RuntimeError):
    pass


def docs(n: int, prefix: str = "d") -> list[Document]:
    words = ["water", "river", "lake", "mountain", "sun", "rain", "farm", "tree", "bird", "fish"]
    return [
        Document(
            f"{prefix}{i:03d}",
            f"title {i}" if i % 4 else "",
            " ".join(words[(i + j) % 10] for j in range(i % 7 + 3)),
        )
        for i in range(n)
    ]


def encode(model, documents, root, *, on_shard=None, signature_size=None, spec="tiny", **config):
    """encode_corpus with small shards; the corpus signature is derived from the document count."""
    config = EncodeConfig(
        **{"shard_size": 7, "dtype": "float32", "batch_size": 4, "show_progress": False, **config}
    )
    size = len(documents) if signature_size is None else signature_size
    signature = [{"name": "corpus.jsonl", "size": 1000 + size}]
    return encode_corpus(
        model, iter(documents), root, model_spec=spec, corpus_name="test", corpus_signature=signature,
        config=config, on_shard=on_shard,
    )  # fmt: skip


@pytest.fixture(scope="module")
def counting_model(tiny_model_dir: Path) -> CountingModel:
    return CountingModel(str(tiny_model_dir), device="cpu")


def test_vectors_equal_the_models_own_encoding(tiny_model, tmp_path: Path) -> None:
    corpus = docs(23)
    result = encode(tiny_model, corpus, tmp_path / "enc")
    encoded = result.corpus
    assert [s.count for s in encoded.shards] == [7, 7, 7, 2]
    assert encoded.num_docs == 23 and result.encoded_docs == 23
    expected = tiny_model.encode_document(
        [passage_text(d, True) for d in corpus], normalize_embeddings=True
    )
    np.testing.assert_allclose(encoded.vectors(), expected, atol=1e-5)
    assert [i for s in encoded.shards for i in encoded.docids(s)] == [d.docid for d in corpus]
    manifest = json.loads((tmp_path / "enc" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["num_docs"] == 23
    assert manifest["header"]["text"]["prompts"]["document"] == "passage: "
    # The title is part of the text, separated by a space; an empty title adds nothing.
    assert passage_text(corpus[1], True) == f"title 1 {corpus[1].text}"
    assert passage_text(corpus[0], True) == corpus[0].text


def test_float16_shards_hold_the_rounded_vectors(tiny_model, tmp_path: Path) -> None:
    corpus = docs(9)
    full = encode(tiny_model, corpus, tmp_path / "f32").corpus.vectors()
    half = encode(tiny_model, corpus, tmp_path / "f16", dtype="float16").corpus
    assert np.load(tmp_path / "f16" / "shard-00000.npy", mmap_mode="r").dtype == np.float16
    np.testing.assert_array_equal(half.vectors(), full.astype(np.float16))


def test_crash_and_resume_does_not_reencode_finished_shards(counting_model, tmp_path: Path) -> None:
    corpus = docs(40)  # shards of 7: 0-6, ..., 35-39 -> 6 shards
    reference = encode(counting_model, corpus, tmp_path / "reference").corpus.vectors()

    root = tmp_path / "crashy"
    seen: list[int] = []

    def crash_after_two(info) -> None:
        seen.append(info.index)
        if len(seen) == 2:
            raise Crash("killed after 2 shards")

    with pytest.raises(Crash):
        encode(counting_model, corpus, root, on_shard=crash_after_two)
    assert seen == [0, 1]
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["complete"] is False
    with pytest.raises(DataError, match="not complete"):
        load_encoded(root)
    stamps = {
        name: ((root / name).stat().st_ino, (root / name).stat().st_mtime_ns)
        for name in ("shard-00000.npy", "shard-00001.npy", "shard-00000.ids", "shard-00001.json")
    }

    counting_model.encoded_documents = 0
    resumed_shards: list[int] = []
    result = encode(
        counting_model, corpus, root, on_shard=lambda info: resumed_shards.append(info.index)
    )
    assert resumed_shards == [2, 3, 4, 5]
    assert result.reused_shards == (0, 1) and result.encoded_shards == (2, 3, 4, 5)
    assert counting_model.encoded_documents == 40 - 14 == result.encoded_docs
    for name, stamp in stamps.items():
        assert ((root / name).stat().st_ino, (root / name).stat().st_mtime_ns) == stamp, name
    np.testing.assert_array_equal(result.corpus.vectors(), reference)
    assert [i for s in result.corpus.shards for i in result.corpus.docids(s)] == [
        d.docid for d in corpus
    ]

    # A complete folder is reused without encoding anything (the corpus is not even read).
    counting_model.encoded_documents = 0
    again = encode(counting_model, [], root, signature_size=40)
    assert counting_model.encoded_documents == 0 and again.encoded_docs == 0
    assert again.reused_shards == (0, 1, 2, 3, 4, 5)


def test_a_mismatched_manifest_is_an_error(tiny_model, tmp_path: Path) -> None:
    corpus = docs(10)
    root = tmp_path / "enc"
    encode(tiny_model, corpus, root)
    # The spec as typed is provenance only: the same weights under another name are reused.
    assert encode(tiny_model, corpus, root, spec="./elsewhere/tiny").encoded_docs == 0
    with pytest.raises(DataError, match="dtype: stored 'float32', requested 'float16'") as info:
        encode(tiny_model, corpus, root, dtype="float16")
    assert info.value.field == "header.dtype" and info.value.path.endswith("manifest.json")
    # A complete encoding serves any shard size; an unfinished one must resume with its own.
    assert encode(tiny_model, corpus, root, shard_size=5).corpus.header["shard_size"] == 7
    with pytest.raises(DataError) as info:
        encode(tiny_model, corpus, root, include_title=False)
    assert info.value.field == "header.text.include_title"
    other = SentenceTransformer(str(build_tiny_model(tmp_path / "other", seed=1)), device="cpu")
    with pytest.raises(DataError) as info:
        encode(other, corpus, root)
    assert info.value.field == "header.model.fingerprint"
    with pytest.raises(DataError) as info:
        encode(tiny_model, docs(11), root)  # another corpus signature
    assert info.value.field == "header.corpus.files"


def test_the_precision_is_part_of_the_encoding(tiny_model, tmp_path: Path) -> None:
    from polyret.precision import precision_scope

    corpus = docs(10)
    root = tmp_path / "enc"
    fp32 = encode(tiny_model, corpus, root)
    assert "precision" not in fp32.corpus.header  # fp32 folders of older versions stay reusable
    with precision_scope(tiny_model, "bf16"):
        with pytest.raises(DataError, match="precision: stored None, requested 'bf16'"):
            encode(tiny_model, corpus, root)
        bf16 = encode(tiny_model, corpus, tmp_path / "bf16")
    assert bf16.corpus.header["precision"] == "bf16"
    cosine = (fp32.corpus.vectors() * bf16.corpus.vectors()).sum(1)
    assert cosine.min() > 0.99


def test_a_changed_corpus_is_caught_on_resume(tiny_model, tmp_path: Path) -> None:
    corpus = docs(20)
    root = tmp_path / "enc"

    def crash(info) -> None:
        raise Crash

    with pytest.raises(Crash):
        encode(tiny_model, corpus, root, on_shard=crash)
    with pytest.raises(DataError) as info:
        encode(tiny_model, corpus, root, shard_size=5)
    assert info.value.field == "header.shard_size"
    changed = [corpus[0]._replace(docid="x000"), *corpus[1:]]  # same signature, other docid
    with pytest.raises(DataError, match="position 0 is 'x000', the shard recorded 'd000'") as info:
        encode(tiny_model, changed, root)
    assert info.value.record == "line 1" and info.value.path.endswith("shard-00000.ids")


def test_shard_files_without_a_manifest_are_not_adopted(tiny_model, tmp_path: Path) -> None:
    root = tmp_path / "enc"
    encode(tiny_model, docs(8), root)
    (root / "manifest.json").unlink()
    with pytest.raises(DataError, match="shard files without a manifest"):
        encode(tiny_model, docs(8), root)


def test_empty_corpus_and_bad_options(tiny_model, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no documents"):
        encode(tiny_model, [], tmp_path / "empty")
    with pytest.raises(ConfigError, match="dtype"):
        EncodeConfig(dtype="bfloat16")
    with pytest.raises(ConfigError, match="shard_size"):
        EncodeConfig(shard_size=0)


def test_queries_use_the_query_prompt(tiny_model) -> None:
    vectors = encode_queries(tiny_model, ["water river", "sun rain"], batch_size=2)
    expected = tiny_model.encode(
        ["query: water river", "query: sun rain"], normalize_embeddings=True
    )
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    passages = tiny_model.encode(["passage: water river"], normalize_embeddings=True)
    assert not np.allclose(vectors[0], passages[0], atol=1e-4)
