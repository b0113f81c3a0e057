"""Tiny random sentence-transformers models for unit tests (no downloads).

``build_tiny_model(path)`` writes a directory with the same layout as a
converted bundled model: a 2-layer BERT with random weights, a byte-level BPE
tokenizer trained on a few multilingual sentences, mean pooling, L2
normalization and the ``query: `` / ``passage: `` prompts.
"""

from __future__ import annotations

from pathlib import Path

TRAIN_TEXT = [
    "query: passage: Where is the capital of France? Paris is the capital of France.",
    "Wo ist die Hauptstadt von Frankreich? Paris ist die Hauptstadt Frankreichs.",
    "¿Dónde está la capital de Francia? París es la capital de Francia.",
    "Где находится столица Франции? Париж — столица Франции.",
    "فرنسا عاصمة باريس هي عاصمة فرنسا",
    "फ्रांस की राजधानी पेरिस है।",
    "法国的首都是巴黎。 Thủ đô của Pháp là Paris. Η πρωτεύουσα της Γαλλίας είναι το Παρίσι.",
    "เมืองหลวงของฝรั่งเศสคือปารีส Fransa'nın başkenti Paris'tir.",
    "The quick brown fox jumps over the lazy dog 0123456789.",
]


def build_tiny_model(
    path: str | Path, *, seed: int = 0, hidden: int = 32, layers: int = 2, pooler: bool = True
) -> Path:
    """Write a tiny random sentence-transformers model to ``path`` and return it.

    ``pooler=False`` builds it like the converted bundled model: a BERT without a pooling layer,
    and ``add_pooling_layer: false`` in ``sentence_bert_config.json`` so that it reloads so.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path = Path(path)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=128,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=130,
        pad_token_id=1,
    )
    bert = BertModel(config, add_pooling_layer=False)
    hf_dir = path / "_hf"
    bert.save_pretrained(hf_dir)
    hf_tok.save_pretrained(hf_dir)
    model_kwargs = {} if pooler else {"add_pooling_layer": False}
    transformer = Transformer(str(hf_dir), max_seq_length=128, model_kwargs=model_kwargs)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        prompts={"query": "query: ", "passage": "passage: ", "document": "passage: "},
        similarity_fn_name="cosine",
        device="cpu",
    )
    model.save(str(path))
    if not pooler:
        import json

        config_path = path / "sentence_bert_config.json"
        config = json.loads(config_path.read_text())
        config["model_kwargs"] = model_kwargs
        config_path.write_text(json.dumps(config, indent=2))
    import shutil

    shutil.rmtree(hf_dir)
    return path
