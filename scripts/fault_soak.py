"""Fault soak: SIGKILL a small real experiment at random moments of every phase, resume until it
finishes, and check that it ends exactly where an uninterrupted run ends.

1. A reference run: the bundled model, 2 strategies x 1 seed x ``--steps`` steps (checkpoints
   every 4), 2 training languages, evaluation on a few XQuAD-R articles, published into a
   report folder.
2. The soak: the same experiment in another folder, started again and again; each start is
   killed (SIGKILL: no clean-up runs, as an OOM kill or a lost machine) once the phase it aims
   at has begun (training steps, a checkpoint being written, an evaluation, publishing an
   evaluation, the report), after a random delay, until a start finishes on its own.
3. The comparison: ``summary.json`` tables and every per-query rank array of the published
   evaluations, soak against reference; and nothing lost: every published evaluation whole
   (``sha256sums``), no run trained twice from scratch past a checkpoint.
4. The same for ``polyret train`` under two processes (torchrun, gloo): one rank is killed after
   a checkpoint, the run resumed with ``--resume``, its final weights compared with an
   uninterrupted two-process run.

    POLYRET_DATA=../shared/data python scripts/fault_soak.py --out runs/fault-soak
(about 15 minutes on 2 cores); prints one line per kill and a summary, and writes
``soak.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

# Phase -> what in the log (or on disk) says it has begun; the kill follows after a delay.
PHASES = {
    "training": re.compile(r"step \d+: \{"),
    "checkpoint": None,  # a checkpoint-N folder appears (polled on disk)
    "evaluation": re.compile(r"evaluating \S+ on \S+ -> "),
    "publishing": re.compile(r"publishing \S+ -> "),
    "report": re.compile(r"writing the report into"),
}
DELAY = {"training": 4.0, "checkpoint": 0.05, "evaluation": 3.0, "publishing": 0.02, "report": 0.3}


def experiment(out: Path, steps: int) -> dict[str, Any]:
    return {
        "name": "fault-soak",
        "output_dir": str(out / "exp"),
        "report_dir": str(out / "results"),
        "base_model": "bundled:multilingual-e5-small",
        "precision": "fp32",  # bitwise-reproducible resumes on any CPU
        "train": {
            "dataset": "mlqa-r",
            "languages": ["de", "en"],
            "dev_fraction": 0.0,
            "batch_size": 8,
            "max_steps": steps,
            "save_steps": 4,
            "logging_steps": 1,
            "max_query_length": 32,
            "max_passage_length": 64,
            "freeze_word_embeddings": True,
        },
        "strategies": ["mono", {"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}],
        "seeds": [1],
        "eval": {"dataset": "xquad-r", "languages": ["de", "en"], "articles": 2},
        "keep_weights": "final",
    }


def polyret(*args: str) -> list[str]:
    return [sys.executable, "-m", "polyret.cli.main", "-v", *args]


def run_to_end(cmd: list[str], log: Path) -> None:
    with log.open("a") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (rc {proc.returncode}); see {log}")


def start_and_kill(cmd: list[str], log: Path, phase: str, watch: Path, rng: random.Random):
    """Start ``cmd``; SIGKILL it once ``phase`` has begun (plus a random delay). Returns
    (killed, finished): killed False when it finished before the phase came."""
    offset = log.stat().st_size if log.exists() else 0
    seen = {p for p in watch.rglob("checkpoint-*")} if watch.exists() else set()
    with log.open("a") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    while proc.poll() is None:
        time.sleep(0.01)
        text = log.read_text(errors="replace")[offset:]
        if phase == "checkpoint":
            begun = any(p not in seen for p in watch.rglob("checkpoint-*"))
        else:
            begun = PHASES[phase].search(text) is not None
        if begun:
            time.sleep(rng.uniform(0, DELAY[phase]))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True, False
            break
    proc.wait()
    if proc.returncode not in (0, None) and proc.returncode != -signal.SIGKILL:
        sys.exit(f"{' '.join(cmd)} failed (rc {proc.returncode}) without a kill; see {log}")
    return False, proc.returncode == 0


def published(results: Path) -> dict[str, dict[str, np.ndarray]]:
    from polyret.evaluation.store import RANKS_FILE, is_saved

    out = {}
    for folder in sorted((results / "evals").iterdir()):
        if folder.name.startswith("."):
            continue
        if not is_saved(folder):
            sys.exit(f"{folder}: a published evaluation is not whole")
        with np.load(folder / RANKS_FILE, allow_pickle=False) as arrays:
            out[folder.name] = {k: arrays[k] for k in arrays.files}
    return out


def compare_experiments(ref: Path, soak: Path) -> list[str]:
    """What differs between the two published results (empty: identical)."""
    diffs = []
    a, b = published(ref / "results"), published(soak / "results")
    if set(a) != set(b):
        diffs.append(f"evaluations {sorted(set(a) ^ set(b))} in one only")
    for name in sorted(set(a) & set(b)):
        for key in sorted(set(a[name]) | set(b[name])):
            if (
                key not in a[name]
                or key not in b[name]
                or not np.array_equal(a[name][key], b[name][key])
            ):
                diffs.append(f"{name}/{key} differs")
    ta = json.loads((ref / "results" / "summary.json").read_text())["table"]
    tb = json.loads((soak / "results" / "summary.json").read_text())["table"]
    if ta != tb:
        diffs.append("summary.json tables differ")
    return diffs


def soak_experiment(args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    ref, soak = args.out / "reference", args.out / "soak"
    for folder, _ in ((ref, 0), (soak, 1)):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment(folder, args.steps)))
    start = time.perf_counter()
    if not (ref / "results" / "summary.json").is_file():
        run_to_end(polyret("experiment", "--config", str(ref / "experiment.yaml")), ref / "log")
    print(f"reference run: {time.perf_counter() - start:.0f} s", flush=True)
    cmd = polyret("experiment", "--config", str(soak / "experiment.yaml"))
    log = soak / "log"
    plan = [*PHASES, *rng.choices(list(PHASES), k=args.extra_kills)]
    kills: list[dict[str, Any]] = []
    finished = False
    for phase in plan:
        killed, finished = start_and_kill(cmd, log, phase, soak / "exp" / "runs", rng)
        if killed:
            kills.append({"phase": phase, "at_s": round(time.perf_counter() - start, 1)})
            print(f"kill {len(kills)}: SIGKILL during {phase}", flush=True)
        else:
            print(f"{phase}: the run ended before it began (no kill)", flush=True)
        if finished:
            break
    resumes = 0
    while not finished:
        resumes += 1
        run_to_end(cmd, log)
        finished = True
    diffs = compare_experiments(ref, soak)
    return {"kills": kills, "final_resumes": resumes, "differences": diffs}


def soak_ddp(args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Two-process training: kill one rank after a checkpoint, resume, compare the weights."""
    from safetensors.torch import load_file

    base = args.out / "ddp"
    base.mkdir(parents=True, exist_ok=True)

    def train_cmd(out: Path, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-port", str(29600 + rng.randrange(300)), "-m", "polyret.cli.main",
            "train", "--dataset", "mlqa-r", "--languages", "de", "en", "--strategy", "hybrid",
            "--max-steps", str(args.steps), "--batch-size", "4", "--save-steps", "4",
            "--dev-fraction", "0", "--max-query-length", "32", "--max-passage-length", "64",
            "--freeze-word-embeddings", "--precision", "fp32", "--device", "cpu",
            "--output-dir", str(out), *extra,
        ]  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref, cut = base / "reference", base / "killed"
    if not (ref / "final").is_dir():
        with (base / "log").open("a") as f:
            subprocess.run(train_cmd(ref), stdout=f, stderr=subprocess.STDOUT, env=env, check=True)
    with (base / "log").open("a") as f:
        proc = subprocess.Popen(train_cmd(cut), stdout=f, stderr=subprocess.STDOUT, env=env)
    killed_rank = None
    while proc.poll() is None:
        time.sleep(0.05)
        if list(cut.glob("checkpoint-*/trainer_state.json")):
            time.sleep(rng.uniform(0, 2.0))
            # The rank-1 worker: the youngest polyret train process under torchrun.
            found = subprocess.run(
                ["pgrep", "-f", "--", f"output-dir {cut}"], capture_output=True, text=True
            )
            pids = sorted(int(p) for p in found.stdout.split() if int(p) != proc.pid)
            if pids:
                killed_rank = pids[-1]
                os.kill(killed_rank, signal.SIGKILL)
            break
    proc.wait()
    if killed_rank is None:
        sys.exit("the two-process run finished before a rank could be killed; raise --steps")
    with (base / "log").open("a") as f:
        subprocess.run(
            train_cmd(cut, "--resume"), stdout=f, stderr=subprocess.STDOUT, env=env, check=True
        )
    a = load_file(str(next((ref / "final").glob("*.safetensors"))))
    b = load_file(str(next((cut / "final").glob("*.safetensors"))))
    same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    return {"killed_pid": killed_rank, "identical_weights": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/fault-soak"))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument(
        "--extra-kills", type=int, default=3, help="random kills beyond one per phase"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only", choices=("experiment", "ddp"), default=None, help="run one of the two soaks"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    if args.only in (None, "experiment"):
        result["experiment"] = soak_experiment(args, rng)
    if args.only in (None, "ddp"):
        result["ddp"] = soak_ddp(args, rng)
    name = "soak.json" if args.only is None else f"soak-{args.only}.json"
    (args.out / name).write_text(json.dumps(result, indent=2))
    if "experiment" in result:
        exp = result["experiment"]
        phases = sorted({k["phase"] for k in exp["kills"]})
        print(
            f"\nexperiment: {len(exp['kills'])} kills ({', '.join(phases)}), then "
            f"{exp['final_resumes']} uninterrupted resume(s); identical to the reference: "
            f"{not exp['differences']}" + (f" ({exp['differences']})" if exp["differences"] else "")
        )
    if "ddp" in result:
        print(
            f"two-process train: killed rank pid {result['ddp']['killed_pid']}, resumed; "
            f"identical final weights: {result['ddp']['identical_weights']}"
        )


if __name__ == "__main__":
    main()
