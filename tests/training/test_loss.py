"""The unpadded loss: the same loss and gradients as sentence-transformers' padded MNRL."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)

from lareqa_fixture import write_parallel_lareqa
from polyret.errors import ConfigError
from polyret.samplers import BatchPlanner, SamplerConfig
from polyret.training.config import TrainConfig
from polyret.training.data import column_prompts, load_training_data, make_collator
from polyret.training.loss import PolyretMNRL, build_loss, embed_unpadded, resolve_chunk_size

LONG = "the quick brown fox jumps over the lazy dog and runs far away "


@pytest.fixture(scope="module")
def qa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parallel_lareqa(tmp_path_factory.mktemp("qa") / "qa", ("en", "de", "ru"))


@pytest.fixture
def model(tiny_model_dir: Path) -> SentenceTransformer:
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    model.eval()  # no dropout: the padded and unpadded passes must see the same network
    return model


def _columns(batch: dict, names: tuple[str, ...]) -> list[dict]:
    return [{k[len(c) + 1 :]: v for k, v in batch.items() if k.startswith(c + "_")} for c in names]


def _loss_and_grads(loss: torch.nn.Module, columns: list[dict]) -> tuple[float, list]:
    loss.model.zero_grad(set_to_none=True)
    value = loss(columns, None)
    value.backward()
    grads = [p.grad.clone() for p in loss.model.parameters() if p.grad is not None]
    return value.item(), grads


def _assert_same(model: SentenceTransformer, columns: list[dict], chunk_size: int) -> None:
    padded = _loss_and_grads(MultipleNegativesRankingLoss(model, scale=50.0), columns)
    unpadded = _loss_and_grads(PolyretMNRL(model, chunk_size, scale=50.0), columns)
    assert unpadded[0] == pytest.approx(padded[0], abs=1e-5)
    assert len(unpadded[1]) == len(padded[1]) > 0
    for a, b in zip(unpadded[1], padded[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("strategy", ["mono", "cross", "hybrid"])
def test_loss_and_gradients_equal_the_padded_ones_on_sampler_batches(
    strategy: str, model: SentenceTransformer, qa_dir: Path, tmp_path: Path
) -> None:
    config = TrainConfig(
        dataset=str(qa_dir),
        dev_fraction=0.0,
        exclude_titles=[],
        batch_size=8,
        sampler=SamplerConfig(strategy, 0.5),
    )
    data = load_training_data(config)
    planner = BatchPlanner(data.train.metadata(), config.run_sampler(), 8, seed=1)
    collate = make_collator(model, config, column_prompts(model))
    dataset = data.train.to_dataset()
    plan = planner.plan(0)
    kinds = {info.kind for info in plan}
    assert kinds == ({"mono", "cross"} if strategy == "hybrid" else {strategy})
    for kind in sorted(kinds):
        info = next(i for i in plan if i.kind == kind)
        batch = collate([dataset[i] for i in info.indices])
        columns = _columns(batch, ("query", "passage"))
        mask = columns[1]["attention_mask"]
        assert mask.sum() < mask.numel()  # the batch is padded, so trimming is tested
        _assert_same(model, columns, chunk_size=3)


def test_hard_negative_columns_and_either_padding_side(model: SentenceTransformer) -> None:
    texts = {
        "query": ["fox?", LONG, "dog " * 3, "a"],
        "passage": [LONG * 2, "river", LONG, "tower bridge"],
        "negative": ["x", LONG * 3, "school garden", LONG],
    }
    for side in ("right", "left"):
        model.tokenizer.padding_side = side
        columns = [dict(model.preprocess(texts[c])) for c in ("query", "passage", "negative")]
        first = columns[0]["attention_mask"][:, 0 if side == "left" else -1]
        assert not first.all()  # really padded on that side
        _assert_same(model, columns, chunk_size=2)


def test_embeddings_keep_the_row_order(model: SentenceTransformer) -> None:
    texts = ["a", LONG * 2, "bb cc", LONG, "d e f g"]
    features = dict(model.preprocess(texts))
    with torch.no_grad():
        expected = model(dict(features))["sentence_embedding"]
        for chunk_size in (1, 2, 5, 9):
            got = embed_unpadded(model, dict(features), chunk_size)
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_chunk_size_default_follows_the_device_and_loss(model: SentenceTransformer) -> None:
    config = TrainConfig()
    assert resolve_chunk_size(config, "cpu") == 8
    assert resolve_chunk_size(config, "cuda:0") == 0
    assert resolve_chunk_size(TrainConfig(length_chunk_size=0), "cpu") == 0
    assert resolve_chunk_size(TrainConfig(length_chunk_size=4), "cuda") == 4
    assert resolve_chunk_size(TrainConfig(loss="cached_mnrl"), "cpu") == 0
    loss = build_loss(model, config, "cpu")
    assert isinstance(loss, PolyretMNRL) and (loss.chunk_size, loss.fp32_loss) == (8, True)
    padded = build_loss(model, TrainConfig(length_chunk_size=0), "cpu")
    assert isinstance(padded, PolyretMNRL) and (padded.chunk_size, padded.fp32_loss) == (0, True)
    # Both off: sentence-transformers' own loss, as the runs before these options trained.
    old = TrainConfig(length_chunk_size=0, loss_precision="autocast")
    assert type(build_loss(model, old, "cpu")) is MultipleNegativesRankingLoss
    cached = build_loss(model, TrainConfig(loss="cached_mnrl"), "cpu")
    assert isinstance(cached, CachedMultipleNegativesRankingLoss)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"length_chunk_size": -1}, "must be 0 or more"),
        ({"length_chunk_size": 4, "loss": "cached_mnrl"}, "applies to loss mnrl only"),
    ],
)
def test_bad_chunk_sizes_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**options)


def test_an_fp32_loss_keeps_bf16_gradients_close_to_fp32(model: SentenceTransformer) -> None:
    """Under bf16 autocast the similarities round to bf16 before the scale multiplies them;
    computed in fp32 (the default) the gradient stays near the fp32 one."""
    texts = {
        "query": [f"question {i} about the {w}?" for i, w in enumerate(LONG.split()[:8])],
        "passage": [f"the {w} is number {i} here." for i, w in enumerate(LONG.split()[:8])],
    }
    columns = [dict(model.preprocess(texts[c])) for c in ("query", "passage")]

    def gradient(loss: torch.nn.Module, autocast: bool) -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            value = loss(columns, None)
        value.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    reference = gradient(PolyretMNRL(model, scale=100.0), autocast=False)
    errors = {}
    for fp32_loss in (True, False):
        g = gradient(PolyretMNRL(model, scale=100.0, fp32_loss=fp32_loss), autocast=True)
        errors[fp32_loss] = ((g - reference).norm() / reference.norm()).item()
    assert errors[True] < 0.5 * errors[False], errors
