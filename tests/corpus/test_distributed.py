"""Two CPU processes (torchrun, gloo) share the shards of one corpus; the result equals one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from polyret.corpus.datasets import corpus_collections
from polyret.corpus.encode import EncodeConfig, encode_collection


def test_two_processes_encode_what_one_process_does(
    tiny_model_dir: Path, tiny_model, miracl_data, tmp_path: Path
) -> None:
    root, written = miracl_data
    enc = tmp_path / "enc"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "polyret.corpus.encode", "--model", str(tiny_model_dir), "--dataset", "miracl",
        "--languages", "sw", "--data-dir", str(root), "--encode-dir", str(enc), "--shard-size", "6",
        "--dtype", "float32", "--batch-size", "4", "--no-progress", "--precision", "fp32",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "miracl-v1.0-sw: 40 documents in 7 shards" in done.stdout

    folder = enc / "miracl-corpus-v1.0-sw"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] and [s["index"] for s in manifest["shards"]] == list(range(7))
    # Each rank encoded only its own shards: even ones on rank 0, odd ones on rank 1.
    for rank in (0, 1):
        logged = [line for line in done.stderr.splitlines() if f"[rank {rank}]: shard " in line]
        assert [int(line.split(": shard ")[1].split()[0]) for line in logged] == list(
            range(rank, 7, 2)
        )

    (collection,) = corpus_collections("miracl", ["sw"], root)
    config = EncodeConfig(shard_size=6, dtype="float32", batch_size=4, show_progress=False)
    single = encode_collection(
        tiny_model, collection, tmp_path / "single", model_spec=str(tiny_model_dir), config=config
    )
    # The multi-process folder is what a single process would reuse as is.
    reused = encode_collection(
        tiny_model, collection, enc, model_spec=str(tiny_model_dir), config=config
    )
    assert reused.encoded_docs == 0 and len(reused.reused_shards) == 7
    np.testing.assert_allclose(reused.corpus.vectors(), single.corpus.vectors(), atol=1e-5)
    docids = [d for shard in reused.corpus.shards for d in reused.corpus.docids(shard)]
    assert docids == [d["docid"] for d in written["sw"]["docs"]]
