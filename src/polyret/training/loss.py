"""The contrastive loss of ``polyret train``: sentence-transformers' MNRL, without the padding
and with the similarities in float32.

sentence-transformers pads every column of a batch to its longest text. On MLQA-R batches of 32
that is 44 % of the query tokens and 55 % of the passage tokens, all of them pushed through every
layer (and attention is quadratic in the padded length). :class:`PolyretMNRL` embeds each column
in length-sorted chunks instead (:class:`PolyretMNRL`), each padded only to its own longest text, and hands the
embeddings to ``MultipleNegativesRankingLoss.compute_loss_from_embeddings``: the loss maths, the
in-batch negatives and the gathering across devices stay sentence-transformers' own, and which
pairs share a batch stays the sampler's decision. Padding is masked out of attention and mean
pooling, so the embeddings, the loss and its gradients are those of the padded forward (up to
floating-point summation order; with dropout on, the masks are drawn for other shapes).

Hand-written because neither library offers it: sentence-transformers' ``embed_columns`` merges
columns but pads them all to one width, and its GradCache loss chunks rows in their batch order
without trimming. Packed (varlen) attention would avoid padding altogether, but torch's CPU
attention kernels take no ragged batches, and a chunk of 8 length-sorted texts is already padded
by a few percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)

from polyret.training.config import Loss, TrainConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Texts per chunk when ``length_chunk_size`` is left to the device: on a 2-core CPU, batches of 32
# MLQA-R pairs (benchmarks/train_speed.py --padding) run fastest in chunks of about 8 texts; a
# GPU gains little from less padding and loses parallelism, so it keeps one padded forward.
CPU_CHUNK_SIZE = 8


def resolve_chunk_size(config: TrainConfig, device: str | torch.device | None) -> int:
    """Texts per length-sorted chunk for ``config`` on ``device`` (0: one padded forward)."""
    if config.length_chunk_size is not None:
        return config.length_chunk_size
    if config.loss is not Loss.MNRL:
        return 0
    from polyret.precision import default_device

    return CPU_CHUNK_SIZE if torch.device(device or default_device()).type == "cpu" else 0


def embed_unpadded(
    model: torch.nn.Module, features: dict[str, Any], chunk_size: int
) -> torch.Tensor:
    """Sentence embeddings of one tokenized column, in length-sorted chunks of ``chunk_size``.

    Args:
        model: a ``SentenceTransformer`` (anything that maps features to ``sentence_embedding``).
        features: the column as the collator gives it: ``input_ids`` and ``attention_mask`` of
            shape ``[n, seq]``, plus scalars (``prompt_length``, ``task``, ...) passed unchanged.
        chunk_size: texts per chunk; each chunk is cut after the last token position that one
            of its texts uses (right padding, as encoders' tokenizers pad).

    Returns:
        ``[n, dim]`` embeddings in the rows' original order.
    """
    mask = features["attention_mask"]
    n, seq = mask.shape
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, descending=True, stable=True)
    chunks = []
    for rows in torch.split(order, chunk_size):
        used = mask[rows].any(dim=0).nonzero().flatten()
        # Only trailing padding is cut: a left-padded batch keeps its positions (absolute
        # position embeddings count from column 0), so it is chunked but not trimmed.
        cols = slice(0, int(used[-1]) + 1 if len(used) else seq)
        chunk = {
            key: _rows_and_columns(value, rows, cols, n, seq) for key, value in features.items()
        }
        chunks.append(model(chunk)["sentence_embedding"])
    embeddings = torch.cat(chunks)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(n, device=order.device)
    return embeddings[inverse]


def _rows_and_columns(value: Any, rows: torch.Tensor, cols: slice, n: int, seq: int) -> Any:
    """``value`` restricted to ``rows`` (a per-text tensor) and ``cols`` (a per-token one)."""
    if not torch.is_tensor(value) or value.dim() == 0 or value.shape[0] != n:
        return value
    value = value[rows]
    if value.dim() >= 2 and value.shape[1] == seq:
        value = value[:, cols]
    return value


class PolyretMNRL(MultipleNegativesRankingLoss):
    """``MultipleNegativesRankingLoss`` with two options of polyret's.

    Args:
        model: the ``SentenceTransformer`` being trained.
        chunk_size: texts per length-sorted chunk (:func:`embed_unpadded`); 0 embeds each column
            in one padded forward, as sentence-transformers does.
        fp32_loss: compute the similarity matrix and the cross-entropy in float32, outside the
            Trainer's autocast. Under bf16 autocast the in-batch similarities are otherwise
            rounded to bf16 before being multiplied by the scale: at scale 100 a logit moves in
            steps of 0.25-0.5, and the gradient of a batch of protocol A's is 25-65% off the fp32
            gradient (cosine 0.84-0.98); with the loss in fp32 it is within 1.5-1.7% (the
            encoder still runs in bf16). The embeddings leave the encoder in float32 either way.
        **kwargs: ``MultipleNegativesRankingLoss``'s options (``scale``, ``gather_across_devices``).
    """

    def __init__(
        self,
        model: SentenceTransformer,
        chunk_size: int = 0,
        *,
        fp32_loss: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, **kwargs)
        if chunk_size < 0:
            raise ValueError(f"chunk_size={chunk_size}: must be 0 or more")
        self.chunk_size = chunk_size
        self.fp32_loss = fp32_loss

    def forward(
        self, sentence_features: Iterable[dict[str, torch.Tensor]], labels: torch.Tensor | None
    ) -> torch.Tensor:
        features = list(sentence_features)
        if self.chunk_size:
            embeddings = [embed_unpadded(self.model, f, self.chunk_size) for f in features]
        else:
            embeddings = embed_columns(self.model, features)
        if not self.fp32_loss:
            return self.compute_loss_from_embeddings(embeddings, labels)
        device = embeddings[0].device.type
        with torch.autocast(device_type=device, enabled=False):
            return self.compute_loss_from_embeddings([e.float() for e in embeddings], labels)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            **super().get_config_dict(),
            "chunk_size": self.chunk_size,
            "fp32_loss": self.fp32_loss,
        }


def build_loss(
    model: SentenceTransformer, config: TrainConfig, device: str | torch.device | None = None
) -> torch.nn.Module:
    """In-batch-negative InfoNCE through sentence-transformers: its MNRL (unpadded or padded,
    the loss in fp32 or inside autocast) or its GradCache variant."""
    from polyret.samplers import resolve_world_size

    gather = config.gather_across_devices and resolve_world_size() > 1
    if config.loss is Loss.CACHED_MNRL:
        return CachedMultipleNegativesRankingLoss(
            model,
            scale=config.scale,
            mini_batch_size=config.mini_batch_size,
            gather_across_devices=gather,
        )
    chunk_size = resolve_chunk_size(config, device)
    fp32_loss = config.loss_precision == "fp32"
    if chunk_size == 0 and not fp32_loss:  # sentence-transformers' own loss, unchanged
        return MultipleNegativesRankingLoss(model, scale=config.scale, gather_across_devices=gather)
    return PolyretMNRL(
        model, chunk_size, fp32_loss=fp32_loss, scale=config.scale, gather_across_devices=gather
    )
