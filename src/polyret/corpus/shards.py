"""On-disk corpus encodings: numpy shards, their docids and a manifest.

An encoding folder holds, for shard ``i`` covering corpus positions ``[start, stop)``::

    shard-0000i.npy    (stop - start, dim) float16 or float32, read memory-mapped
    shard-0000i.ids    the docids, one per line
    shard-0000i.json   {"index", "start", "stop"}: written last, so it marks the shard finished
    manifest.json      {"format", "header", "provenance", "complete", "num_docs", "shards"}

Every file is written atomically. The manifest ``header`` records what the vectors depend on
(model and its weights digest, dtype, text options, shard size, corpus files); a folder whose header
differs from the requested one is an error, never silently reused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyret.errors import DataError
from polyret.io import atomic_path, write_json

MANIFEST_NAME = "manifest.json"
STORE_FORMAT = "polyret-shards/1"
DTYPES = ("float16", "float32")
VectorTransform = Callable[[np.ndarray], np.ndarray]
_META = re.compile(r"^shard-(\d{5,})\.json$")


@dataclass(frozen=True)
class ShardInfo:
    """Shard ``index`` holds the vectors of corpus positions ``[start, stop)``."""

    index: int
    start: int
    stop: int

    @property
    def count(self) -> int:
        return self.stop - self.start

    @property
    def stem(self) -> str:
        return f"shard-{self.index:05d}"

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "start": self.start, "stop": self.stop}


@dataclass(frozen=True)
class VectorShard:
    """A ``.npy`` file of ``count`` vectors whose first row is global row ``start``."""

    path: Path
    start: int
    count: int
    # Applied to the vectors as they are loaded (a debiaser's passage transform): [n, d] -> [n, d]
    transform: VectorTransform | None = None

    def load(self) -> np.ndarray:
        """The vectors (count, dim): memory-mapped, or in memory when transformed."""
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the vector shard ({exc})", path=self.path) from None
        if array.ndim != 2 or array.shape[0] != self.count:
            raise DataError(
                f"shard has shape {array.shape}, expected ({self.count}, dim)", path=self.path
            )
        return array if self.transform is None else self.transform(array)


def _diff(expected: Any, found: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two JSON values differ."""
    if isinstance(expected, dict) and isinstance(found, dict):
        keys = list(expected) + [k for k in found if k not in expected]
        out: list[str] = []
        for key in keys:
            out += _diff(expected.get(key), found.get(key), f"{prefix}{key}.")
        return out
    return [] if expected == found else [prefix.rstrip(".")]


def _lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


@dataclass(frozen=True)
class EncodedCorpus:
    """A finished encoding folder: its header and its shards in corpus order."""

    root: Path
    header: dict[str, Any]
    shards: tuple[ShardInfo, ...]

    @property
    def num_docs(self) -> int:
        return self.shards[-1].stop if self.shards else 0

    @property
    def dim(self) -> int:
        return int(self.header["dim"])

    @property
    def dtype(self) -> str:
        return str(self.header["dtype"])

    def vector_shards(
        self, offset: int = 0, transform: VectorTransform | None = None
    ) -> list[VectorShard]:
        """The shards as :class:`VectorShard`, with global rows shifted by ``offset`` and
        ``transform`` applied to their vectors as they are loaded."""
        return [
            VectorShard(self.root / f"{s.stem}.npy", offset + s.start, s.count, transform)
            for s in self.shards
        ]

    def docids(self, shard: ShardInfo) -> list[str]:
        """The docids of one shard, in row order."""
        return read_ids(self.root / f"{shard.stem}.ids", shard.count)

    def vectors(self) -> np.ndarray:
        """All vectors in one in-memory array (num_docs, dim); for tests and small corpora only."""
        return np.concatenate([np.asarray(s.load()) for s in self.vector_shards()], axis=0)


def read_ids(path: Path, count: int) -> list[str]:
    """Read a shard's docid file and check it holds ``count`` ids."""
    try:
        ids = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise DataError(f"cannot read the docid file ({exc})", path=path) from None
    if ids and ids[-1] == "":
        ids.pop()
    if len(ids) != count:
        raise DataError(f"holds {len(ids)} docids, expected {count}", path=path)
    return ids


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest stored in ``root`` (None if there is none yet); a malformed one is an error."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable manifest ({exc})", path=path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise DataError(
            f"not a polyret encoding manifest (expected format {STORE_FORMAT!r})",
            path=path,
            field="format",
        )
    return manifest


class ShardStore:
    """Writes and checks the shards of one encoding folder (see the module docstring)."""

    def __init__(
        self, root: Path, header: dict[str, Any], provenance: dict[str, Any] | None = None
    ) -> None:
        self.root = Path(root)
        # Recorded but never compared (e.g. the model spec as typed: a relative and an absolute
        # path name the same model; the weights fingerprint in the header decides).
        self.provenance = dict(provenance or {})
        # Round-trip through JSON so that the comparison with a stored header sees what was written.
        self.header: dict[str, Any] = json.loads(json.dumps(header))
        if self.header.get("dtype") not in DTYPES:
            raise DataError(f"dtype must be one of {DTYPES}, got {self.header.get('dtype')!r}")

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def read_manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.root)

    def check_or_create(self, *, create: bool = True) -> dict[str, Any]:
        """Compare the stored header with ours (a mismatch is an error); write a fresh manifest if none.

        With ``create=False`` (ranks other than 0) a missing manifest is an error.
        """
        manifest = self.read_manifest()
        if manifest is None:
            if not create:
                raise DataError(
                    "no encoding manifest (rank 0 writes it first)", path=self.manifest_path
                )
            if self.root.is_dir() and any(self.root.glob("shard-*")):
                raise DataError(
                    "shard files without a manifest; delete the folder or choose another --encode-dir",
                    path=self.root,
                )
            manifest = {
                "format": STORE_FORMAT,
                "header": self.header,
                "provenance": self.provenance,
                "complete": False,
                "num_docs": None,
                "shards": [],
            }
            write_json(self.manifest_path, manifest)
            return manifest
        stored = manifest.get("header")
        differences = _diff(self.header, stored)
        if manifest.get("complete"):
            # The shard size only fixes where a resumed run cuts; finished vectors do not depend on it.
            differences = [d for d in differences if d != "shard_size"]
        if differences:
            key = differences[0]
            shown = ", ".join(
                f"{k}: stored {_lookup(stored, k)!r}, requested {_lookup(self.header, k)!r}"
                for k in differences[:3]
            )
            raise DataError(
                f"these encodings were made with other settings ({shown}); delete {self.root} or choose "
                "another --encode-dir",
                path=self.manifest_path,
                field=f"header.{key}",
            )
        return manifest

    def finished(self) -> dict[int, ShardInfo]:
        """Shards whose meta file exists (written last, so their vectors and ids are complete)."""
        done: dict[int, ShardInfo] = {}
        if not self.root.is_dir():
            return done
        for meta in self.root.iterdir():
            match = _META.match(meta.name)
            if not match:
                continue
            try:
                obj = json.loads(meta.read_text(encoding="utf-8"))
                info = ShardInfo(int(obj["index"]), int(obj["start"]), int(obj["stop"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise DataError(f"unreadable shard record ({exc})", path=meta) from None
            if info.index != int(match.group(1)):
                raise DataError(f"records index {info.index}", path=meta, field="index")
            shard = VectorShard(self.root / f"{info.stem}.npy", info.start, info.count)
            array = shard.load()
            if array.shape[1] != self.header["dim"] or array.dtype != np.dtype(
                self.header["dtype"]
            ):
                raise DataError(
                    f"vectors are {array.dtype} x {array.shape[1]}, the manifest says "
                    f"{self.header['dtype']} x {self.header['dim']}",
                    path=shard.path,
                )
            done[info.index] = info
        return done

    def write_shard(self, info: ShardInfo, vectors: np.ndarray, docids: list[str]) -> None:
        """Write one shard atomically: vectors, then docids, then the meta file that marks it done."""
        if vectors.shape != (info.count, self.header["dim"]) or len(docids) != info.count:
            raise ValueError(
                f"shard {info.index}: {vectors.shape} vectors, {len(docids)} ids, expected {info.count}"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.root / f"{info.stem}.npy") as tmp, open(tmp, "wb") as f:
            np.save(
                f, np.ascontiguousarray(vectors, dtype=self.header["dtype"]), allow_pickle=False
            )
        with atomic_path(self.root / f"{info.stem}.ids") as tmp:
            tmp.write_text("".join(f"{d}\n" for d in docids), encoding="utf-8")
        write_json(self.root / f"{info.stem}.json", info.to_dict())

    def stored_docids(self, info: ShardInfo) -> list[str]:
        return read_ids(self.root / f"{info.stem}.ids", info.count)

    def finalize(self, num_docs: int) -> EncodedCorpus:
        """Check that the finished shards tile ``[0, num_docs)`` and mark the manifest complete."""
        finished = self.finished()
        shards = tuple(finished[i] for i in sorted(finished))
        position = 0
        for expected, info in enumerate(shards):
            if info.index != expected or info.start != position:
                raise DataError(
                    f"shard {expected} (from position {position}) is missing or misplaced",
                    path=self.root,
                )
            position = info.stop
        if position != num_docs:
            raise DataError(
                f"the shards cover {position} documents, the corpus has {num_docs}", path=self.root
            )
        manifest = {
            "format": STORE_FORMAT,
            "header": self.header,
            "provenance": {**(self.read_manifest() or {}).get("provenance", {}), **self.provenance},
            "complete": True,
            "num_docs": num_docs,
            "shards": [s.to_dict() for s in shards],
        }
        write_json(self.manifest_path, manifest)
        return EncodedCorpus(self.root, self.header, shards)


def load_encoded(root: str | Path, header: dict[str, Any] | None = None) -> EncodedCorpus:
    """Open a complete encoding folder; with ``header``, also check it matches."""
    root = Path(root)
    if header is not None:
        manifest = ShardStore(root, header).check_or_create(create=False)
    else:
        manifest = read_manifest(root)
        if manifest is None:
            raise DataError("no encoding manifest here", path=root / MANIFEST_NAME)
    if not manifest.get("complete"):
        raise DataError(
            "encoding is not complete; run the encoder again to finish it",
            path=root / MANIFEST_NAME,
        )
    try:
        shards = tuple(
            ShardInfo(int(s["index"]), int(s["start"]), int(s["stop"])) for s in manifest["shards"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"malformed shard list ({exc})", path=root / MANIFEST_NAME, field="shards"
        ) from None
    return EncodedCorpus(root, manifest["header"], shards)


@dataclass(frozen=True)
class CorpusPart:
    """An encoded corpus placed at global rows ``[offset, offset + num_docs)`` of a search, its
    docids written with ``prefix`` (the multilingual pool prefixes the language) and its vectors
    passed through ``transform`` when searched (debiasing)."""

    corpus: EncodedCorpus
    offset: int = 0
    prefix: str = ""
    transform: VectorTransform | None = None

    def vector_shards(self) -> list[VectorShard]:
        return self.corpus.vector_shards(self.offset, self.transform)


def docids_for_rows(parts: list[CorpusPart], rows: np.ndarray) -> np.ndarray:
    """Docids (object array, same shape as ``rows``; ``None`` for -1), reading one shard's ids at a time."""
    flat = rows.reshape(-1)
    out = np.full(flat.shape, None, dtype=object)
    valid = np.flatnonzero(flat >= 0)
    unique, inverse = np.unique(flat[valid], return_inverse=True)
    names = np.full(unique.shape, None, dtype=object)
    for part in parts:
        for shard in part.corpus.shards:
            lo, hi = part.offset + shard.start, part.offset + shard.stop
            first, last = np.searchsorted(unique, [lo, hi])
            if first == last:
                continue
            ids = np.asarray(part.corpus.docids(shard), dtype=object)
            names[first:last] = [part.prefix + d for d in ids[unique[first:last] - lo]]
    if any(n is None for n in names):
        raise ValueError("search returned rows outside every corpus part")
    out[valid] = names[inverse]
    return out.reshape(rows.shape)
