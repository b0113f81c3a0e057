"""Turn a dataset spec (``miracl`` or ``beir:PATH``) into corpus collections, and name encoding folders."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from polyret.data.beir import CorpusCollection, beir_corpus_key, find_beir_file, load_beir
from polyret.errors import ConfigError, DataError

DATASET_HELP = "'miracl' or 'beir:PATH' (a BEIR folder, or a folder of per-language BEIR folders)"


def parse_dataset(spec: str) -> tuple[str, Path | None]:
    """``"miracl"`` -> ("miracl", None); ``"beir:PATH"`` -> ("beir", PATH)."""
    if spec == "miracl":
        return "miracl", None
    if spec.startswith("beir:") and len(spec) > len("beir:"):
        return "beir", Path(spec[len("beir:") :]).expanduser()
    raise ConfigError(f"unknown corpus dataset {spec!r}; expected {DATASET_HELP}")


def default_split(spec: str) -> str:
    """MIRACL is evaluated on dev, BEIR datasets on test."""
    return "dev" if parse_dataset(spec)[0] == "miracl" else "test"


def _is_beir_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("corpus.jsonl", "corpus.jsonl.gz"))


def _beir_folders(path: Path, languages: list[str] | None) -> list[tuple[Path, str | None]]:
    """(folder, language) pairs: PATH itself, or its per-language subfolders."""
    if _is_beir_folder(path):
        if languages and len(languages) > 1:
            raise ConfigError(
                f"{path} is a single BEIR folder; give at most one language for it, or point beir: at a "
                "folder of per-language BEIR folders"
            )
        return [(path, languages[0] if languages else None)]
    if not path.is_dir():
        raise DataError("BEIR folder not found", path=path)
    if languages:
        pairs = [(path / lang, lang) for lang in languages]
        for folder, _ in pairs:
            find_beir_file(folder, "corpus")
        return pairs
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and _is_beir_folder(p))
    if not subfolders:
        raise DataError(
            "neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) nor a folder of "
            "per-language BEIR folders",
            path=path,
        )
    return [(p, p.name) for p in subfolders]


def load_collections(
    spec: str,
    languages: list[str] | None,
    split: str | None,
    data_dir: str | os.PathLike[str] | None,
) -> list[CorpusCollection]:
    """Every collection (one per language) the spec names, with queries and qrels loaded."""
    kind, path = parse_dataset(spec)
    split = split or default_split(spec)
    if kind == "miracl":
        from polyret.data.miracl import MIRACL_LAYOUT, available_languages, load_miracl, miracl_root

        if not languages:
            root = miracl_root(data_dir)
            languages = available_languages(root, split)
            if not languages:
                raise DataError(
                    f"no MIRACL topics for split {split!r}. MIRACL cannot be downloaded by polyret; "
                    f"provide this layout under --data-dir (or $POLYRET_DATA):\n{MIRACL_LAYOUT}",
                    path=root,
                )
        return [load_miracl(lang, split, data_dir) for lang in languages]
    assert path is not None
    return [load_beir(folder, split, lang=lang) for folder, lang in _beir_folders(path, languages)]


def corpus_collections(
    spec: str, languages: list[str] | None, data_dir: str | os.PathLike[str] | None
) -> list[CorpusCollection]:
    """Only the corpora (no topics or qrels needed): what the standalone encoder reads."""
    kind, path = parse_dataset(spec)
    if kind == "miracl":
        from polyret.data.miracl import miracl_corpus_collection

        if not languages:
            raise ConfigError("name the MIRACL languages to encode (--languages)")
        return [miracl_corpus_collection(lang, data_dir) for lang in languages]
    assert path is not None
    collections = []
    for folder, lang in _beir_folders(path, languages):
        corpus = find_beir_file(folder, "corpus")
        collections.append(
            CorpusCollection(
                f"beir:{folder.name}", lang, "", (), {}, (corpus,), "_id", beir_corpus_key(folder)
            )
        )
    return collections


def model_slug(spec: str) -> str:
    """A folder name for a model spec: readable, plus a hash of the spec so that specs never collide."""
    resolved = str(Path(spec).expanduser().resolve()) if Path(spec).expanduser().exists() else spec
    tail = Path(spec.rstrip("/")).name or spec
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-") or "model"
    return f"{readable[:60]}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def encode_root(
    model: str, out_dir: str | os.PathLike[str] | None, encode_dir: str | os.PathLike[str] | None
) -> Path:
    """The folder holding one subfolder of shards per corpus.

    ``encode_dir`` as given; else ``<out_dir>/encodings/<model>``; else ``<cache>/encodings/<model>``.
    """
    if encode_dir is not None:
        return Path(encode_dir).expanduser()
    if out_dir is not None:
        return Path(out_dir).expanduser() / "encodings" / model_slug(model)
    from polyret.paths import cache_dir

    return cache_dir() / "encodings" / model_slug(model)
