"""Translation backends: transformers seq2seq models and CTranslate2.

Both load a model from a local directory or a Hugging Face hub id (the local cache
first, the network only when it is allowed), find the model family from its tokenizer
(:class:`~polyret.translate.codes.Family`) and translate one batch of sentences at a
time; batching and caching are the pipeline's job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from polyret.errors import ConfigError, ModelError
from polyret.translate.codes import Family, lang_code, lang_token, marian_target_token

__all__ = [
    "BACKENDS",
    "CTranslate2Translator",
    "DecodeOptions",
    "ModelSpec",
    "TransformersTranslator",
    "Translator",
    "dir_fingerprint",
    "load_translator",
]

logger = logging.getLogger(__name__)

BACKENDS = ("transformers", "ctranslate2")
DTYPES = ("auto", "float32", "float16", "bfloat16", "int8")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
T = TypeVar("T")


@dataclass(frozen=True)
class DecodeOptions:
    """How a model is loaded and decodes; every field that changes the output is in the cache key."""

    num_beams: int = 4
    max_new_tokens: int = 256
    max_input_tokens: int | None = None
    """Longer inputs are cut (with a warning); None = the model's own limit."""
    device: str = "auto"
    """``auto`` (GPU when present), ``cpu``, ``cuda`` or ``cuda:N``."""
    dtype: str = "auto"
    """``auto`` = float16 on GPU, float32 on CPU; ``int8`` is for CTranslate2 only."""
    tokenizer: str | None = None
    """CTranslate2 only: the tokenizer's directory or hub id when the model folder has none."""
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.num_beams < 1:
            raise ConfigError(f"--beams must be at least 1, got {self.num_beams}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        if self.max_input_tokens is not None and self.max_input_tokens < 2:
            raise ConfigError(f"--max-input-tokens must be at least 2, got {self.max_input_tokens}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


class Translator(Protocol):
    """What the pipeline needs from a backend."""

    name: str
    key: str
    """Cache key: backend, model name, fingerprint of its files and the decoding options."""
    family: Family
    multi_target: bool
    """Whether one model serves several target languages."""
    max_input_tokens: int
    truncated: int
    """How many inputs so far were longer than ``max_input_tokens`` and were cut."""

    def check_languages(self, src: str, tgt: str) -> None:
        """Raise :class:`ModelError` if the model cannot translate ``src`` -> ``tgt``."""

    def translate_batch(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate one batch; the i-th output is the translation of the i-th text."""


@dataclass(frozen=True)
class ModelSpec:
    """``--model``: one model for every target, a ``{tgt}`` template or a ``lang=model`` mapping.

    * ``facebook/nllb-200-distilled-600M`` or ``/models/nllb``: one multilingual model;
    * ``Helsinki-NLP/opus-mt-{src}-{tgt}``: one model per direction (Marian/OPUS-MT);
    * ``de=/models/opus-en-de,es=/models/opus-en-es``: an explicit model per target.
    """

    text: str
    mapping: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        text = text.strip()
        if not text:
            raise ConfigError("--model is empty")
        if "{" in text:
            try:
                text.format(src="en", tgt="de")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"--model template {text!r} may only use {{src}} and {{tgt}}: {exc!r}"
                ) from exc
            return cls(text)
        if "=" not in text:
            return cls(text)
        mapping: dict[str, str] = {}
        for item in text.split(","):
            lang, sep, ref = (s.strip() for s in item.partition("="))
            if not sep or not lang or not ref:
                raise ConfigError(f"--model mapping item {item!r} is not lang=model")
            if lang in mapping:
                raise ConfigError(f"--model mapping names {lang!r} twice")
            mapping[lang] = ref
        return cls(text, mapping)

    def model_for(self, src: str, tgt: str) -> str:
        """The model reference that translates ``src`` -> ``tgt``."""
        if self.mapping:
            if tgt not in self.mapping:
                raise ConfigError(
                    f"--model mapping has no model for {tgt!r} (it has {', '.join(self.mapping)})"
                )
            return self.mapping[tgt]
        return self.text.format(src=src, tgt=tgt) if "{" in self.text else self.text


def dir_fingerprint(path: Path) -> str:
    """Hash of the names, sizes, mtimes (and hub blob names) of a model folder's files.

    Cheap (no weights are read) and changes whenever a file is rewritten.
    """
    h = hashlib.sha256()
    for f in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
        st = f.stat()
        blob = os.path.basename(os.path.realpath(f)) if f.is_symlink() else ""
        h.update(json.dumps([f.name, st.st_size, st.st_mtime_ns, blob]).encode())
    return h.hexdigest()[:16]


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_error(ref: str, why: str) -> ModelError:
    return ModelError(
        f"translation model {ref!r} is not a local directory and cannot be fetched from the "
        f"Hugging Face hub ({why}). Download it where the hub is reachable "
        f"(`hf download {ref} --local-dir DIR`) and pass --model DIR"
    )


def _local_dir(ref: str) -> Path | None:
    """The local folder ``ref`` names, None for a hub id, or a ModelError."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"translation model {ref!r} is a file; pass the model's directory")
    if not _HUB_ID.match(ref):
        raise ModelError(f"translation model {ref!r}: no such directory")
    return None


def _from_hub(ref: str, load: Callable[[bool], T]) -> T:
    """``load(local_files_only)``: from the hub cache first, then the network if allowed."""
    try:
        return load(True)
    except OSError:
        pass
    if _offline():
        raise _hub_error(ref, "offline mode is set and it is not in the local hub cache")
    try:
        return load(False)
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _hub_error(ref, first) from exc


def _hub_fingerprint(ref: str, fallback: str) -> str:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(ref, "config.json")
    except Exception:  # a cache lookup failing only costs cache hits
        found = None
    if isinstance(found, str):
        return dir_fingerprint(Path(found).parent)
    return hashlib.sha256(fallback.encode()).hexdigest()[:16]


def _detect_family(tokenizer: Any) -> Family:
    if _token_id(tokenizer, "eng_Latn") is not None:
        return Family.NLLB
    if _token_id(tokenizer, "__en__") is not None:
        return Family.M2M
    return Family.MARIAN


def _token_id(tokenizer: Any, token: str) -> int | None:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return int(tid)


def _model_limit(tokenizer: Any, config: Any | None) -> int:
    limits = [1024]
    if 1 < getattr(tokenizer, "model_max_length", 0) < 100_000:
        limits.append(int(tokenizer.model_max_length))
    if config is not None and getattr(config, "max_position_embeddings", None):
        limits.append(int(config.max_position_embeddings))
    return min(limits)


class _Seq2Seq:
    """Language handling and encoding shared by both backends."""

    backend = ""

    def __init__(
        self, name: str, tokenizer: Any, options: DecodeOptions, fingerprint: str, limit: int
    ) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.options = options
        self.family = _detect_family(tokenizer)
        self._vocab = set(tokenizer.get_vocab()) if self.family is Family.MARIAN else set()
        self._marian_targets = sorted(
            t for t in self._vocab if t.startswith(">>") and t.endswith("<<")
        )
        self.multi_target = self.family is not Family.MARIAN or bool(self._marian_targets)
        self.max_input_tokens = options.max_input_tokens or limit
        self.truncated = 0
        decoding = f"b{options.num_beams}-n{options.max_new_tokens}-i{self.max_input_tokens}"
        self.key = f"{self.backend}:{name}@{fingerprint}:{decoding}:{self._dtype_name()}"

    def _dtype_name(self) -> str:
        return self.options.dtype

    def _lang_id(self, lang: str) -> int:
        token = lang_token(self.family, lang)
        tid = _token_id(self.tokenizer, token)
        if tid is None:
            raise ModelError(f"model {self.name!r} has no language token {token!r} for {lang!r}")
        return tid

    def check_languages(self, src: str, tgt: str) -> None:
        if self.family is Family.MARIAN:
            if self._marian_targets and marian_target_token(tgt, self._vocab) is None:
                shown = ", ".join(self._marian_targets[:20])
                raise ModelError(
                    f"multi-target model {self.name!r} has no target token for {tgt!r} "
                    f"(it has {shown}{', ...' if len(self._marian_targets) > 20 else ''})"
                )
            return
        self._lang_id(src)
        self._lang_id(tgt)

    def _encode(self, texts: Sequence[str], src: str, tgt: str) -> list[list[int]]:
        """Token ids of the source texts, language tokens included, cut to the input limit."""
        texts = list(texts)
        prepend: int | None = None
        if self.family is Family.MARIAN:
            target = marian_target_token(tgt, self._vocab) if self._marian_targets else None
            if target:
                texts = [f"{target} {t}" for t in texts]
        elif hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = lang_code(self.family, src)
        else:
            # A tokenizer without src_lang (a plain tokenizers.json export): put the source
            # language token first, as NLLB (non-legacy) and M2M-100 do.
            prepend = self._lang_id(src)
        ids: list[list[int]] = self.tokenizer(texts, verbose=False)["input_ids"]
        if prepend is not None:
            ids = [[prepend, *x] for x in ids]
        limit = self.max_input_tokens
        long = sum(len(x) > limit for x in ids)
        if long:
            self.truncated += long
            logger.debug("%d sentences longer than %d tokens were cut", long, limit)
            ids = [x if len(x) <= limit else [*x[: limit - 1], x[-1]] for x in ids]
        return ids


class TransformersTranslator(_Seq2Seq):
    """A transformers ``AutoModelForSeq2SeqLM`` (NLLB, M2M-100, Marian/OPUS-MT, ...)."""

    backend = "transformers"

    def __init__(self, ref: str, options: DecodeOptions | None = None) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        options = options or DecodeOptions()
        if options.dtype == "int8":
            raise ConfigError("--dtype int8 needs --backend ctranslate2")
        device = options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: torch sees no CUDA GPU")
        dtype_name = options.dtype
        if dtype_name == "auto":
            dtype_name = "float16" if device.startswith("cuda") else "float32"
        self.device = torch.device(device)
        self._dtype = dtype_name
        trust = options.trust_remote_code

        def load(local_only: bool) -> tuple[Any, Any]:
            tok = AutoTokenizer.from_pretrained(
                ref, local_files_only=local_only, trust_remote_code=trust
            )
            model = AutoModelForSeq2SeqLM.from_pretrained(
                ref,
                local_files_only=local_only,
                trust_remote_code=trust,
                dtype=getattr(torch, dtype_name),
            )
            return tok, model

        local = _local_dir(ref)
        try:
            tokenizer, model = load(True) if local is not None else _from_hub(ref, load)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load translation model {ref!r}: {exc}") from exc
        self.model = model.to(self.device).eval()
        if local is not None:
            fingerprint = dir_fingerprint(local)
            name = local.resolve().name
        else:
            fingerprint = _hub_fingerprint(ref, model.config.to_json_string())
            name = ref
        super().__init__(
            name, tokenizer, options, fingerprint, _model_limit(tokenizer, model.config)
        )

    def _dtype_name(self) -> str:
        return self._dtype

    def generate_ids(self, texts: Sequence[str], src: str, tgt: str) -> Any:
        """Generated token ids (a tensor, batch x length) for one batch."""
        import torch

        ids = self._encode(texts, src, tgt)
        batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(self.device)
        forced = None if self.family is Family.MARIAN else self._lang_id(tgt)
        with torch.inference_mode():
            return self.model.generate(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                num_beams=self.options.num_beams,
                max_new_tokens=self.options.max_new_tokens,
                do_sample=False,
                forced_bos_token_id=forced,
            )

    def translate_batch(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        out = self.generate_ids(texts, src, tgt)
        if self.family is not Family.MARIAN:
            # The forced target-language token is not always a "special" token that
            # skip_special_tokens drops (M2M100Tokenizer keeps "__de__"): blank it out.
            out = out.masked_fill(out == self._lang_id(tgt), self.tokenizer.pad_token_id)
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)


class CTranslate2Translator(_Seq2Seq):
    """A model converted with ``ct2-transformers-converter`` (the ``polyret[ctranslate2]`` extra)."""

    backend = "ctranslate2"

    def __init__(self, ref: str, options: DecodeOptions | None = None) -> None:
        try:
            import ctranslate2
        except ImportError as exc:
            raise ModelError(
                "--backend ctranslate2 needs CTranslate2: pip install 'polyret[ctranslate2]'"
            ) from exc
        from transformers import AutoTokenizer

        options = options or DecodeOptions()
        local = _local_dir(ref)
        is_local = local is not None
        if local is None:

            def fetch(local_only: bool) -> Path:
                from huggingface_hub import snapshot_download

                try:
                    return Path(snapshot_download(ref, local_files_only=local_only))
                except Exception as exc:  # hub errors are not all OSErrors
                    raise OSError(str(exc)) from exc

            local = _from_hub(ref, fetch)
        if not (local / "model.bin").is_file():
            raise ModelError(
                f"{ref!r} is not a CTranslate2 model (no model.bin); convert one with "
                "`ct2-transformers-converter --model MODEL --output_dir DIR "
                "--copy_files tokenizer.json tokenizer_config.json ...`, or use --backend transformers"
            )
        tok_ref = options.tokenizer or str(local)
        try:
            tok_local = _local_dir(tok_ref)
            if tok_local is not None:
                tokenizer = AutoTokenizer.from_pretrained(tok_ref, local_files_only=True)
            else:
                tokenizer = _from_hub(
                    tok_ref, lambda lo: AutoTokenizer.from_pretrained(tok_ref, local_files_only=lo)
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"no tokenizer for CTranslate2 model {ref!r} ({exc}); copy the tokenizer files "
                "into the model folder or pass --tokenizer (the original model's folder or id)"
            ) from exc
        device = options.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        index = 0
        if device.startswith("cuda:"):
            device, index = "cuda", int(device.split(":")[1])
        self._compute_type = {
            "auto": "default",
            "float32": "float32",
            "float16": "float16",
            "bfloat16": "bfloat16",
            "int8": "int8",
        }[options.dtype]
        try:
            self._ct2 = ctranslate2.Translator(
                str(local), device=device, device_index=index, compute_type=self._compute_type
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"CTranslate2 cannot load {ref!r}: {exc}") from exc
        config = (
            json.loads((local / "config.json").read_text())
            if (local / "config.json").is_file()
            else {}
        )
        limit = _model_limit(tokenizer, None)
        if config.get("max_position_embeddings"):  # not always written by the converter
            limit = min(limit, int(config["max_position_embeddings"]))
        name = local.resolve().name if is_local else ref
        super().__init__(name, tokenizer, options, dir_fingerprint(local), limit)

    def _dtype_name(self) -> str:
        return self._compute_type

    def translate_batch(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        ids = self._encode(texts, src, tgt)
        tokens = [self.tokenizer.convert_ids_to_tokens(x) for x in ids]
        prefix = None
        if self.family is not Family.MARIAN:
            prefix_token = lang_token(self.family, tgt)
            prefix = [[prefix_token] for _ in tokens]
        results = self._ct2.translate_batch(
            tokens,
            target_prefix=prefix,
            beam_size=self.options.num_beams,
            max_decoding_length=self.options.max_new_tokens + (1 if prefix else 0),
            max_batch_size=len(tokens),
        )
        out: list[str] = []
        for result in results:
            hyp = result.hypotheses[0]
            if prefix and hyp and hyp[0] == prefix[0][0]:
                hyp = hyp[1:]
            ids_out = self.tokenizer.convert_tokens_to_ids(hyp)
            out.append(self.tokenizer.decode(ids_out, skip_special_tokens=True))
        return out


def load_translator(
    ref: str, backend: str = "transformers", options: DecodeOptions | None = None
) -> Translator:
    """Load ``ref`` (a local folder or a hub id) with the named backend."""
    if backend == "transformers":
        return TransformersTranslator(ref, options)
    if backend == "ctranslate2":
        return CTranslate2Translator(ref, options)
    raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
