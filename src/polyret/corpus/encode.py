"""Streaming corpus encoding into resumable on-disk shards, on one or several processes.

Documents are read in corpus order and cut into shards of ``shard_size``; shard ``i`` holds positions
``[i * shard_size, (i + 1) * shard_size)``. A finished shard is never encoded again: after a crash
the encoder streams past it (checking that its docids still match) and goes on with the next one.

Several processes (``torchrun``, or any launcher that sets ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``) share the work: rank ``r`` encodes the shards with
``index % world_size == r`` and rank 0 writes the final manifest. ``--out-dir`` gives the same
folder as ``polyret eval --out`` (``<out>/encodings/<model>/<corpus>``), so the evaluation that
follows reuses every shard::

    torchrun --standalone --nproc_per_node=4 -m polyret.corpus.encode --model MODEL \\
        --dataset miracl --languages sw,yo --data-dir DATA --out-dir OUT
    polyret eval --model MODEL --dataset miracl --languages sw,yo --data-dir DATA --out OUT
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyret import __version__
from polyret.configfile import check_at_least
from polyret.corpus.shards import (
    DTYPES,
    EncodedCorpus,
    ShardInfo,
    ShardStore,
    load_encoded,
    read_manifest,
)
from polyret.data.beir import CorpusCollection, Document
from polyret.distributed import leave_process_group
from polyret.errors import ConfigError, DataError, PolyretError
from polyret.flags import add_data_dir, add_device, add_no_progress, add_precision
from polyret.precision import set_precision
from polyret.progress import bars_on

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# Texts per call to encode_document: large enough for its length sorting to cut padding,
# small enough for a smooth progress bar.
_CHUNK_BATCHES = 16


@dataclass
class EncodeConfig:
    """How a corpus is turned into vectors."""

    shard_size: int = 50_000
    dtype: str = "float16"  # float16 halves disk and page cache; scores change by ~1e-3
    batch_size: int = 64
    include_title: bool = True  # passage text = "title text" (the BEIR and MIRACL convention)
    max_seq_length: int | None = None  # None: the model's own
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        check_at_least(self, "shard_size", "batch_size", "max_seq_length", flags=False)


@dataclass(frozen=True)
class EncodeResult:
    """What one :func:`encode_corpus` call did (on this rank)."""

    corpus: EncodedCorpus
    encoded_docs: int
    encoded_shards: tuple[int, ...]
    reused_shards: tuple[int, ...]
    seconds: float

    @property
    def docs_per_s(self) -> float | None:
        return self.encoded_docs / self.seconds if self.encoded_docs and self.seconds > 0 else None


@dataclass(frozen=True)
class DistContext:
    """This process's rank among ``world_size`` encoders, and a barrier across them."""

    rank: int = 0
    world_size: int = 1
    barrier: Callable[[], Any] = lambda: None


def init_distributed() -> DistContext:
    """Join the process group that ``torchrun`` / ``accelerate launch`` describe in the environment.

    Uses gloo (only barriers are exchanged, so it serves CPU and GPU ranks alike) with a long
    timeout, since ranks wait for the slowest one at the end of a corpus.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=timedelta(hours=24))
    return DistContext(dist.get_rank(), dist.get_world_size(), dist.barrier)


def passage_text(doc: Document, include_title: bool) -> str:
    """The text a passage is encoded from."""
    if include_title and doc.title.strip():
        return f"{doc.title} {doc.text}"
    return doc.text


def normalizes(model: SentenceTransformer) -> bool:
    """Whether embeddings are L2-normalized so that inner product equals the model's similarity."""
    name = str(getattr(model, "similarity_fn_name", None) or "cosine")
    if name == "cosine":
        return True
    if name == "dot":
        return False
    raise ConfigError(
        f"the model's similarity is {name!r}; corpus search ranks by inner product and supports "
        "models with 'cosine' or 'dot' similarity"
    )


def model_fingerprint(model: SentenceTransformer) -> str:
    """sha256 over the module stack and every weight: changes whenever the vectors could."""
    import torch

    # The modules' reprs carry their configs (pooling mode, normalization); the wrapper class is left out.
    h = hashlib.sha256("\n".join(repr(m) for m in model.children()).encode())
    for name, tensor in model.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        # Raw bytes of any dtype (bfloat16 has no numpy equivalent).
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def encoding_header(
    model: SentenceTransformer,
    *,
    config: EncodeConfig,
    corpus_name: str,
    corpus_signature: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the stored vectors depend on; compared on every reuse of an encoding folder."""
    from polyret.precision import model_precision

    header: dict[str, Any] = {
        "model": {"fingerprint": model_fingerprint(model)},
        "dim": int(model.get_embedding_dimension()),
        "dtype": config.dtype,
        "normalize": normalizes(model),
        "text": {
            "include_title": config.include_title,
            "max_seq_length": int(model.max_seq_length) if model.max_seq_length else None,
            "prompts": dict(model.prompts),
        },
        "shard_size": config.shard_size,
        "corpus": {"name": corpus_name, "files": corpus_signature},
    }
    precision = model_precision(model)
    if precision != "fp32":  # fp32 encodings made before the option existed stay reusable
        header["precision"] = precision
    return header


def encode_texts(
    model: SentenceTransformer, texts: Sequence[str], *, kind: str, batch_size: int, normalize: bool
) -> np.ndarray:
    """Encode passages (``kind="document"``) or queries (``"query"``) with the model's prompts: (n, dim) float32."""
    encode = model.encode_document if kind == "document" else model.encode_query
    vectors = encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=False,
        convert_to_numpy=True,
        normalize_embeddings=normalize,
    )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def encode_queries(
    model: SentenceTransformer, texts: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Query vectors comparable by inner product with the corpus shards: (n, dim) float32."""
    return encode_texts(
        model, texts, kind="query", batch_size=batch_size, normalize=normalizes(model)
    )


def _shards_of(
    documents: Iterable[Document], shard_size: int
) -> Iterator[tuple[ShardInfo, list[Document]]]:
    batch: list[Document] = []
    index = start = 0
    for doc in documents:
        batch.append(doc)
        if len(batch) == shard_size:
            yield ShardInfo(index, start, start + len(batch)), batch
            index, start, batch = index + 1, start + len(batch), []
    if batch:
        yield ShardInfo(index, start, start + len(batch)), batch


def _check_reused(store: ShardStore, info: ShardInfo, docs: list[Document]) -> None:
    stored = store.stored_docids(info)
    for offset, (doc, expected) in enumerate(zip(docs, stored, strict=False)):
        if doc.docid != expected:
            raise DataError(
                f"the corpus changed since these encodings were made: position {info.start + offset} is "
                f"{doc.docid!r}, the shard recorded {expected!r}; delete {store.root} or choose another --encode-dir",
                path=store.root / f"{info.stem}.ids",
                record=f"line {offset + 1}",
            )
    if len(docs) != len(stored):
        raise DataError(
            f"the corpus changed since these encodings were made: shard {info.index} had {len(stored)} "
            f"documents, now {len(docs)}; delete {store.root} or choose another --encode-dir",
            path=store.root / f"{info.stem}.ids",
        )


def encode_corpus(
    model: SentenceTransformer,
    documents: Iterable[Document],
    root: str | os.PathLike[str],
    *,
    model_spec: str,
    corpus_name: str,
    corpus_signature: list[dict[str, Any]],
    config: EncodeConfig | None = None,
    on_shard: Callable[[ShardInfo], None] | None = None,
    dist: DistContext | None = None,
) -> EncodeResult:
    """Encode ``documents`` into shards under ``root``, reusing every shard already finished there.

    ``on_shard`` is called after each shard this process writes. With ``dist`` (several ranks), every
    rank streams the corpus and encodes its own shards; all ranks return the complete corpus.
    """
    config = config or EncodeConfig()
    dist = dist or DistContext()
    root = Path(root)
    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    header = encoding_header(
        model,
        config=config,
        corpus_name=corpus_name,
        corpus_signature=corpus_signature,
    )
    provenance = {"model_spec": str(model_spec), "polyret_version": __version__}
    store = ShardStore(root, header, provenance)
    if dist.rank == 0:
        manifest = store.check_or_create(create=True)
    dist.barrier()
    if dist.rank != 0:
        manifest = store.check_or_create(create=False)
    if manifest.get("complete"):
        corpus = load_encoded(root, header)
        logger.info("%s: reusing %d complete shards in %s", corpus_name, len(corpus.shards), root)
        return EncodeResult(corpus, 0, (), tuple(s.index for s in corpus.shards), 0.0)

    finished = store.finished()
    normalize = bool(header["normalize"])
    encoded: list[int] = []
    encoded_docs = 0
    num_docs = 0
    started = time.perf_counter()
    from tqdm.auto import tqdm

    desc = f"encode {corpus_name}" + (f" [rank {dist.rank}]" if dist.world_size > 1 else "")
    with tqdm(
        desc=desc,
        unit="doc",
        disable=not bars_on(config.show_progress),
        position=dist.rank,
        dynamic_ncols=True,
    ) as bar:
        for info, docs in _shards_of(documents, config.shard_size):
            num_docs = info.stop
            if info.index in finished:
                stored = finished[info.index]
                if stored != info:
                    raise DataError(
                        f"shard {info.index} covers {stored.start}-{stored.stop}, expected {info.start}-{info.stop}",
                        path=root / f"{info.stem}.json",
                    )
                _check_reused(store, info, docs)
                continue
            if info.index % dist.world_size != dist.rank:
                continue
            shard_started = time.perf_counter()
            vectors = _encode_shard(model, info, docs, config, normalize, bar)
            store.write_shard(info, vectors, [d.docid for d in docs])
            seconds = time.perf_counter() - shard_started
            encoded.append(info.index)
            encoded_docs += info.count
            bar.set_postfix(shard=info.index, refresh=False)
            _log_shard(corpus_name, dist, info, seconds)
            if on_shard is not None:
                on_shard(info)
    seconds = time.perf_counter() - started
    if num_docs == 0:
        raise DataError(f"corpus {corpus_name} has no documents")
    dist.barrier()
    if dist.rank == 0:
        store.finalize(num_docs)
    dist.barrier()
    corpus = load_encoded(root, header)
    if encoded_docs:
        logger.info(
            "%s: encoded %d documents in %.1f s (%.0f docs/s), reused %d shards",
            corpus_name,
            encoded_docs,
            seconds,
            encoded_docs / max(seconds, 1e-9),
            len(finished),
        )
    return EncodeResult(corpus, encoded_docs, tuple(encoded), tuple(sorted(finished)), seconds)


def _log_shard(corpus_name: str, dist: DistContext, info: ShardInfo, seconds: float) -> None:
    rank = f" [rank {dist.rank}]" if dist.world_size > 1 else ""
    logger.info(
        "%s%s: shard %d (docs %d-%d) in %.1f s, %.0f docs/s", corpus_name, rank, info.index,
        info.start, info.stop, seconds, info.count / max(seconds, 1e-9),
    )  # fmt: skip


def _encode_shard(
    model: SentenceTransformer,
    info: ShardInfo,
    docs: list[Document],
    config: EncodeConfig,
    normalize: bool,
    bar: Any,
) -> np.ndarray:
    """One shard's vectors [count, dim] in ``config.dtype``, encoded in chunks of batches."""
    chunk = config.batch_size * _CHUNK_BATCHES
    texts = [passage_text(d, config.include_title) for d in docs]
    parts = []
    for offset in range(0, len(texts), chunk):
        parts.append(
            encode_texts(
                model,
                texts[offset : offset + chunk],
                kind="document",
                batch_size=config.batch_size,
                normalize=normalize,
            )
        )
        bar.update(len(parts[-1]))
    vectors = np.concatenate(parts, axis=0).astype(config.dtype)
    if not np.isfinite(vectors).all():
        raise ConfigError(
            f"shard {info.index}: vectors overflow {config.dtype} (an unnormalized model?); use dtype float32"
        )
    return vectors


def encode_collection(
    model: SentenceTransformer,
    collection: CorpusCollection,
    encode_root: str | os.PathLike[str],
    *,
    model_spec: str,
    config: EncodeConfig | None = None,
    on_shard: Callable[[ShardInfo], None] | None = None,
    dist: DistContext | None = None,
) -> EncodeResult:
    """Encode a collection's corpus into ``<encode_root>/<corpus_key>``."""
    return encode_corpus(
        model,
        collection.iter_documents(),
        Path(encode_root) / collection.corpus_key,
        model_spec=model_spec,
        corpus_name=collection.name,
        corpus_signature=collection.corpus_signature(),
        config=config,
        on_shard=on_shard,
        dist=dist,
    )


def is_complete(root: Path) -> bool:
    """Whether ``root`` holds a complete encoding (of any settings)."""
    manifest = read_manifest(root)
    return bool(manifest and manifest.get("complete"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m polyret.corpus.encode",
        description="Encode corpora into resumable shards; run it under torchrun to share the shards "
        "among processes. `polyret eval` with --out equal to --out-dir (or the same --encode-dir) "
        "reuses them.",
    )
    parser.add_argument(
        "--model",
        default="bundled:multilingual-e5-small",
        help="local dir, hub id or bundled model (default %(default)s)",
    )
    parser.add_argument("--dataset", required=True, help="'miracl' or 'beir:PATH'")
    parser.add_argument("--languages", default=None, help="comma-separated language codes")
    add_data_dir(parser, holds="miracl/ and miracl-corpus/")
    parser.add_argument(
        "--encode-dir", default=None, help="root of the shard folders (one per corpus)"
    )
    parser.add_argument(
        "--out-dir", default=None, help="without --encode-dir: use <out-dir>/encodings/<model>"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shard-size", type=int, default=EncodeConfig.shard_size)
    parser.add_argument("--dtype", choices=DTYPES, default=EncodeConfig.dtype)
    parser.add_argument("--max-seq-length", type=int, default=None)
    parser.add_argument("--no-title", action="store_true", help="encode the text without the title")
    add_device(parser, default_help="cuda:<LOCAL_RANK> if available")
    add_precision(parser)
    add_no_progress(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Encode the corpora of a dataset; each rank of a torch.distributed launch takes its shards."""
    from polyret.corpus.datasets import corpus_collections, encode_root

    args = build_parser().parse_args(argv)
    dist = init_distributed()
    config = EncodeConfig(
        shard_size=args.shard_size,
        dtype=args.dtype,
        batch_size=args.batch_size,
        include_title=not args.no_title,
        max_seq_length=args.max_seq_length,
        show_progress=not args.no_progress,
    )
    languages = (
        [lang.strip() for lang in args.languages.split(",") if lang.strip()]
        if args.languages
        else None
    )
    collections = corpus_collections(args.dataset, languages, args.data_dir)
    root = encode_root(args.model, args.out_dir, args.encode_dir)
    device = args.device
    if device is None and dist.world_size > 1:
        import torch

        if torch.cuda.is_available():
            device = (
                f"cuda:{int(os.environ.get('LOCAL_RANK', dist.rank)) % torch.cuda.device_count()}"
            )
    from polyret.models import load_model

    model = load_model(args.model, device=device)
    precision = set_precision(model, args.precision)
    logger.info("encoding at precision %s", precision)
    for collection in collections:
        result = encode_collection(
            model, collection, root, model_spec=args.model, config=config, dist=dist
        )
        if dist.rank == 0:
            print(
                f"{collection.name}: {result.corpus.num_docs} documents in {len(result.corpus.shards)} shards "
                f"at {result.corpus.root} (this rank encoded {result.encoded_docs}, "
                f"{result.docs_per_s or 0:.0f} docs/s; config {asdict(config)})"
            )
    leave_process_group()
    return 0


def _run() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        code = main()
    except PolyretError as exc:
        print(f"polyret encode: error: {exc}", file=sys.stderr)
        code = 2
    raise SystemExit(code)


if __name__ == "__main__":
    _run()


__all__ = [
    "DistContext",
    "EncodeConfig",
    "EncodeResult",
    "encode_collection",
    "encode_corpus",
    "encode_queries",
    "encoding_header",
    "init_distributed",
    "model_fingerprint",
    "passage_text",
]
