from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyret.corpus.datasets import (
    corpus_collections,
    default_split,
    encode_root,
    load_collections,
    model_slug,
    parse_dataset,
)
from polyret.corpus.shards import CorpusPart, EncodedCorpus, ShardInfo, ShardStore, docids_for_rows
from polyret.errors import ConfigError, DataError


def test_parse_dataset() -> None:
    assert parse_dataset("miracl") == ("miracl", None)
    assert parse_dataset("beir:/data/scifact") == ("beir", Path("/data/scifact"))
    assert default_split("miracl") == "dev" and default_split("beir:x") == "test"
    for bad in ("beir:", "mrtydi", "BEIR:x"):
        with pytest.raises(ConfigError, match="unknown corpus dataset"):
            parse_dataset(bad)


def test_beir_folder_of_languages(tmp_path: Path, beir_data) -> None:
    folder, _ = beir_data
    parent = folder.parent
    folder.rename(parent / "de")
    (collection,) = load_collections(f"beir:{parent}", None, None, None)
    assert collection.lang == "de" and collection.split == "test" and len(collection.queries) == 5
    (only,) = load_collections(f"beir:{parent / 'de'}", ["de"], "test", None)
    assert only.lang == "de"
    with pytest.raises(ConfigError, match="single BEIR folder"):
        load_collections(f"beir:{parent / 'de'}", ["de", "fr"], "test", None)
    with pytest.raises(DataError, match=r"no corpus\.jsonl"):
        load_collections(f"beir:{parent}", ["de", "fr"], "test", None)
    (corpus,) = corpus_collections(f"beir:{parent}", ["de"], None)
    assert corpus.queries == () and corpus.corpus_key == only.corpus_key


def test_miracl_corpus_collections_need_languages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--languages"):
        corpus_collections("miracl", None, tmp_path)


def test_encode_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYRET_CACHE", str(tmp_path / "cache"))
    assert encode_root("m", None, tmp_path / "enc") == tmp_path / "enc"
    slug = model_slug("bundled:multilingual-e5-small")
    assert slug.startswith("bundled-multilingual-e5-small-")
    assert (
        encode_root("bundled:multilingual-e5-small", tmp_path / "out", None)
        == tmp_path / "out" / "encodings" / slug
    )
    assert (
        encode_root("bundled:multilingual-e5-small", None, None)
        == tmp_path / "cache" / "encodings" / slug
    )
    (tmp_path / "a" / "model").mkdir(parents=True)
    (tmp_path / "b" / "model").mkdir(parents=True)
    assert model_slug(str(tmp_path / "a" / "model")) != model_slug(str(tmp_path / "b" / "model"))


def test_docids_for_rows_across_parts(tmp_path: Path) -> None:
    parts = []
    offset = 0
    for lang, sizes in (("sw", [3, 2]), ("yo", [4])):
        header = {"dim": 2, "dtype": "float32"}
        store = ShardStore(tmp_path / lang, header)
        store.check_or_create()
        start = 0
        for index, size in enumerate(sizes):
            ids = [f"{lang}{start + i}" for i in range(size)]
            store.write_shard(
                ShardInfo(index, start, start + size), np.zeros((size, 2), np.float32), ids
            )
            start += size
        corpus: EncodedCorpus = store.finalize(start)
        parts.append(CorpusPart(corpus, offset, f"{lang}:"))
        offset += start
    rows = np.array([[8, 0, -1], [4, 5, 3]])
    assert docids_for_rows(parts, rows).tolist() == [
        ["yo:yo3", "sw:sw0", None],
        ["sw:sw4", "yo:yo0", "sw:sw3"],
    ]
    with pytest.raises(ValueError, match="outside every corpus part"):
        docids_for_rows(parts, np.array([[9]]))
