"""The training collator: per-column max lengths and prompts, picklable for dataloader workers."""

from __future__ import annotations

import pickle
from pathlib import Path

from sentence_transformers import SentenceTransformer

from polyret.training.config import TrainConfig
from polyret.training.data import column_prompts, make_collator

LONG = "the quick brown fox jumps over the lazy dog " * 20


def test_queries_and_passages_get_their_own_length_and_prompt(tiny_model_dir: Path) -> None:
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    collator = make_collator(
        model, TrainConfig(max_query_length=9, max_passage_length=17), column_prompts(model)
    )
    collator = pickle.loads(pickle.dumps(collator))  # dataloader workers get a copy
    batch = collator([{"query": LONG, "passage": LONG}, {"query": "fox", "passage": "dog"}])
    assert batch["query_input_ids"].shape == (2, 9)
    assert batch["passage_input_ids"].shape == (2, 17)
    tok = model.tokenizer
    query = tok.decode(batch["query_input_ids"][0], skip_special_tokens=True).strip()
    passage = tok.decode(batch["passage_input_ids"][0], skip_special_tokens=True).strip()
    assert query.startswith("query: the") and passage.startswith("passage: the")
    # Without truncation the texts would be far longer than either limit.
    assert len(tok(LONG)["input_ids"]) > 100
