"""Tiny random-weight MT models for tests and the translation benchmark (no downloads).

``build_tiny_marian`` writes a one-direction Marian model laid out like a real
OPUS-MT one (``</s>`` = 0, ``<unk>`` = 1, ``<pad>`` last and the decoder start), so
the CTranslate2 converter accepts it. ``build_tiny_nllb`` writes an M2M-100
architecture model whose vocabulary has FLORES-200 language tokens, as NLLB's does.
Their translations are gibberish; only the plumbing is real.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def _word_tokenizer(
    texts: Iterable[str],
    specials: Sequence[str],
    extra: Sequence[str],
    prefix: Sequence[str] = (),
    max_length: int = 64,
) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.train_from_iterator(list(texts), trainers.WordLevelTrainer(special_tokens=list(specials)))
    tok.add_special_tokens(list(extra))
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos)]
    )
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=max_length,
        additional_special_tokens=list(prefix),
    )
    return hf


def build_tiny_marian(
    path: str | Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    d_model: int = 16,
    layers: int = 1,
    target_tokens: Sequence[str] = (),
    max_positions: int = 64,
) -> Path:
    """Write a tiny random Marian model whose word-level vocabulary covers ``texts``.

    ``target_tokens`` (``">>de<<"``, ...) make it a multi-target model.
    """
    import torch
    from transformers import MarianConfig, MarianMTModel

    path = Path(path)
    hf = _word_tokenizer(
        texts, ["</s>", "<unk>"], [*target_tokens, "<pad>"], target_tokens, max_positions
    )
    vocab = len(hf)
    pad = hf.convert_tokens_to_ids("<pad>")
    assert pad == vocab - 1, "Marian keeps <pad> last"
    config = MarianConfig(
        vocab_size=vocab,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_position_embeddings=max_positions,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).eval().save_pretrained(path)
    hf.save_pretrained(path)
    return path


def _tiny_m2m100(path: Path, tokenizer: Any, seed: int) -> Path:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    # M2M100Tokenizer numbers its language tokens after the SentencePiece vocabulary.
    ids = [*tokenizer.get_vocab().values(), *getattr(tokenizer, "lang_token_to_id", {}).values()]
    config = M2M100Config(
        vocab_size=max(len(tokenizer), max(ids) + 1),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    M2M100ForConditionalGeneration(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_nllb(path: str | Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """Write a tiny random NLLB model: transformers' own ``NllbTokenizer`` (all 202
    FLORES-200 language tokens) over a character vocabulary, an M2M-100 architecture."""
    from transformers import NllbTokenizer

    chars = sorted({c for t in texts for c in t if not c.isspace()})
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "\u2581": 4}
    vocab.update({c: 5 + i for i, c in enumerate(chars)})
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])
    return _tiny_m2m100(Path(path), tokenizer, seed)


def build_tiny_m2m(path: str | Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """Write a tiny random M2M-100 model with transformers' own ``M2M100Tokenizer``
    (``__de__`` language tokens) over a small SentencePiece model trained on ``texts``."""
    import io
    import json

    import sentencepiece as spm
    from transformers import M2M100Tokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=model,
        vocab_size=120,
        hard_vocab_limit=False,
        model_type="bpe",
        minloglevel=2,
    )
    (path / "spm.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(path / "spm.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = M2M100Tokenizer(
        vocab_file=str(path / "vocab.json"), spm_file=str(path / "spm.model")
    )
    (path / "spm.model").unlink()
    (path / "vocab.json").unlink()
    return _tiny_m2m100(path, tokenizer, seed)
