"""Kill a training run of the bundled model after a checkpoint, resume it, compare with a whole run.

The repro of the resume bug (issue 18), kept as a check: prints the maximum absolute difference
between the final embeddings of the uninterrupted and the killed-and-resumed run.

    python scripts/resume_check.py --out runs/resume-check
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FLAGS = [
    "--dataset", "mlqa-r", "--languages", "ar", "de", "en", "es", "hi", "vi", "zh",
    "--strategy", "hybrid", "--alpha", "0.5", "--batch-size", "16", "--max-steps", "8",
    "--save-steps", "4", "--freeze-word-embeddings", "--seed", "3",
]  # fmt: skip


def polyret(*args: str) -> list[str]:
    return [sys.executable, "-m", "polyret.cli.main", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/resume-check"))
    args = parser.parse_args()
    whole, cut = args.out / "whole", args.out / "cut"
    if not (whole / "final").exists():
        subprocess.run(polyret("train", *FLAGS, "--output-dir", str(whole)), check=True)
    if not (cut / "final").exists():
        proc = subprocess.Popen(polyret("train", *FLAGS, "--output-dir", str(cut)))
        while proc.poll() is None and not (cut / "checkpoint-4" / "trainer_state.json").is_file():
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        print(f"killed with SIGTERM after {cut / 'checkpoint-4'} was written", flush=True)
        subprocess.run(polyret("train", *FLAGS, "--output-dir", str(cut), "--resume"), check=True)

    import numpy as np

    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.models import load_model

    data = load_lareqa(resolve_lareqa_folder("xquad-r", os.environ.get("POLYRET_DATA")), ["en"])
    texts = [q.text for q in data.languages["en"].questions[:64]]
    a = load_model(str(whole / "final"), device="cpu").encode_query(texts)
    b = load_model(str(cut / "final"), device="cpu").encode_query(texts)
    diff = float(np.abs(a - b).max())
    print(json.dumps({"texts": len(texts), "max_abs_embedding_diff": diff}))
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
