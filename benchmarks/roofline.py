"""The CPU's own limit: GEMM throughput at the model's shapes, and FLOPs counted from real tokens.

``train_speed.py --padding`` and ``eval_speed.py --precisions`` report their speed figures as a
share of what this machine's matrix products reach: achieved FLOP/s (FLOPs of the transformer's
matrix products on the real, unpadded tokens, divided by the measured seconds) over the best
``torch`` matmul throughput at the shapes of the model's Linear layers. Padding, attention
softmax, layer norms, dropout and the optimizer all count as time but not as FLOPs, so the share
says how close a step or an encoding comes to pure GEMM work.

    python benchmarks/roofline.py                      # bundled model's shapes, fp32 and bf16
    python benchmarks/roofline.py --hidden 768 --intermediate 3072
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

# Token rows of the GEMMs timed: a chunk of 8 short questions up to a padded batch of 32 x 96.
ROWS = (256, 512, 1024, 2048, 3072)


@dataclass(frozen=True)
class Shapes:
    """What the FLOP count needs of a BERT-style encoder."""

    hidden: int
    intermediate: int
    layers: int

    @classmethod
    def of(cls, model) -> Shapes:  # type: ignore[no-untyped-def]
        """The shapes of a ``SentenceTransformer`` whose first module wraps a HF encoder."""
        config = model[0].auto_model.config
        return cls(config.hidden_size, config.intermediate_size, config.num_hidden_layers)


def forward_flops(shapes: Shapes, lengths: Iterable[int]) -> float:
    """FLOPs of the matrix products of one forward pass over texts of ``lengths`` real tokens.

    Per layer and text of ``n`` tokens: Q, K, V and the attention output (``4 n H^2`` MACs), the
    feed-forward pair (``2 n H F``), and the two attention products ``Q K^T`` and ``A V``
    (``2 n^2 H``); two FLOPs per MAC. Embedding lookups, norms and pooling are not counted.
    """
    h, f = shapes.hidden, shapes.intermediate
    total = 0.0
    for n in lengths:
        total += 2.0 * (4 * n * h * h + 2 * n * h * f + 2 * n * n * h)
    return total * shapes.layers


def train_flops(shapes: Shapes, lengths: Iterable[int]) -> float:
    """A training step's FLOPs: forward plus backward, which costs two forwards (input and
    weight gradients)."""
    return 3.0 * forward_flops(shapes, lengths)


def gemm_throughput(
    shapes: Shapes, dtype: str, rows: Iterable[int] = ROWS, seconds: float = 0.5
) -> dict[str, float]:
    """GFLOP/s of ``torch.nn.functional.linear`` at each Linear shape of the model.

    ``dtype`` ``bf16`` multiplies bfloat16 tensors (the kernel's limit; autocast adds a cast of
    its inputs on top). Returns ``{"rows x in -> out": GFLOP/s}``.
    """
    import torch

    kind = torch.bfloat16 if dtype == "bf16" else torch.float32

    h, f = shapes.hidden, shapes.intermediate
    out: dict[str, float] = {}
    for n in rows:
        for k, m in ((h, h), (h, f), (f, h)):
            x = torch.randn(n, k, dtype=kind)
            w = torch.randn(m, k, dtype=kind)
            with torch.no_grad():
                for _ in range(3):
                    torch.nn.functional.linear(x, w)
                calls, start = 0, time.perf_counter()
                while time.perf_counter() - start < seconds:
                    torch.nn.functional.linear(x, w)
                    calls += 1
                elapsed = time.perf_counter() - start
            out[f"{n} x {k} -> {m}"] = 2.0 * n * k * m * calls / elapsed / 1e9
    return out


def peak(throughput: dict[str, float]) -> float:
    """The best GFLOP/s of :func:`gemm_throughput`: the limit a speed figure is read against."""
    return max(throughput.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    args = parser.parse_args()
    import torch

    from polyret.precision import cpu_has_native_bf16

    torch.set_num_threads(args.threads)
    shapes = Shapes(args.hidden, args.intermediate, 12)
    print(f"{args.threads} threads, native CPU bf16: {cpu_has_native_bf16()}")
    for precision in args.precisions:
        table = gemm_throughput(shapes, precision)
        for shape, gflops in table.items():
            print(f"{precision:>5} {shape:>20}: {gflops:7.1f} GFLOP/s")
        print(f"{precision:>5} peak: {peak(table):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
