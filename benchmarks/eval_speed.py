"""How fast is polyret's LAReQA evaluation? Against the sentence-transformers loop and bare encoding.

In one run, on the same model, machine, data and batch size, time

* polyret: ``encode_lareqa`` + ``evaluate_lareqa_embeddings`` (every mono, cross and
  multilingual setting, each unique text encoded once);
* the loop a user writes today: sentence-transformers' ``InformationRetrievalEvaluator``
  once per ordered language pair X->Y (L x L settings, 121 on XQuAD-R; no multilingual
  pool), each call encoding its queries and corpus again;
* bare encoding: ``encode_query`` over the unique questions and ``encode_document`` over the
  unique candidates, nothing else (the floor for any evaluator).

One untimed encoding pass warms the model up; bare and polyret then alternate for ``--rounds``
(best of each kept); the loop, which takes L times longer, runs once.

Prints wall and CPU times (this process's CPU time is steadier on a shared machine; on a GPU,
read the wall times) and both ratios: loop / polyret (target >= 10x on all 11 XQuAD-R
languages; it grows about linearly with the number of languages, since the loop encodes
everything L times) and polyret / bare (target <= 1.2x).

XQuAD-R needs the data: ``POLYRET_DATA=../shared/data`` or ``--data-dir``.

    python benchmarks/eval_speed.py --languages en de es          # small random BERT, 9 pairs
    python benchmarks/eval_speed.py --model bundled:multilingual-e5-small --languages en de
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def small_model(hidden: int, layers: int) -> str:
    """A random BERT sentence-transformers model built like the test one (no download)."""
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_model import build_tiny_model

    path = Path(tempfile.gettempdir()) / f"polyret-eval-speed-h{hidden}-l{layers}"
    if not (path / "modules.json").is_file():
        build_tiny_model(path, hidden=hidden, layers=layers)
    return str(path)


class Clock:
    """Wall and CPU seconds of a block (CPU time of this process, all threads: steadier on a shared machine)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def st_loop(model, dataset, batch_size: int) -> Clock:
    """InformationRetrievalEvaluator over every ordered pair X->Y."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from polyret.evaluation import candidate_docnos

    docnos = candidate_docnos(dataset)
    with Clock() as clock:
        for x, xdata in dataset.languages.items():
            for y, ydata in dataset.languages.items():
                queries, relevant = {}, {}
                for q in xdata.questions:
                    answer = dataset.answer_index(q.id, y)
                    if answer is not None:
                        queries[q.id] = q.text
                        relevant[q.id] = {docnos[y][answer]}
                corpus = {docnos[y][c.index]: c.text for c in ydata.candidates}
                evaluator = InformationRetrievalEvaluator(
                    queries,
                    corpus,
                    relevant,
                    batch_size=batch_size,
                    name=f"{x}-{y}",
                    write_csv=False,
                )
                evaluator(model)
    return clock


def bare(model, dataset, batch_size: int) -> Clock:
    """Encode the unique questions and candidates once."""
    queries = list(dict.fromkeys(q.text for d in dataset.languages.values() for q in d.questions))
    docs = list(dict.fromkeys(c.text for d in dataset.languages.values() for c in d.candidates))
    with Clock() as clock:
        model.encode_query(queries, batch_size=batch_size, convert_to_tensor=True)
        model.encode_document(docs, batch_size=batch_size, convert_to_tensor=True)
    return clock


def polyret_eval(model, dataset, batch_size: int) -> tuple[Clock, float, float]:
    """polyret's full evaluation; also its encode and score wall seconds."""
    from polyret.evaluation import encode_lareqa, evaluate_lareqa_embeddings

    with Clock() as clock:
        emb = encode_lareqa(model, dataset, batch_size=batch_size, show_progress=False)
        result = evaluate_lareqa_embeddings(dataset, emb)
    return clock, emb.encode_seconds, result.timings["score"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model", default="small", help="'small' (random BERT, built here) or a polyret model spec"
    )
    p.add_argument("--hidden", type=int, default=64, help="hidden size of the 'small' model")
    p.add_argument("--layers", type=int, default=2, help="layers of the 'small' model")
    p.add_argument(
        "--dataset", default="xquad-r", help="xquad-r, mlqa-r or a folder of <lang>.json"
    )
    p.add_argument("--languages", nargs="+", default=None, help="language subset (default: all)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds of bare and polyret (best kept)"
    )
    args = p.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from polyret.data.lareqa import load_lareqa
    from polyret.models import load_model

    spec = small_model(args.hidden, args.layers) if args.model == "small" else args.model
    model = load_model(spec, device=args.device)
    dataset = load_lareqa(args.dataset, args.languages, data_dir=args.data_dir)
    n_lang = len(dataset.langs)
    print(
        f"model {args.model} ({spec}), {dataset.name} {','.join(dataset.langs)}: {dataset.n_questions} questions, "
        f"{dataset.n_candidates} candidates, {n_lang * n_lang} pair settings; device {args.device}, "
        f"torch threads {torch.get_num_threads()}, batch {args.batch_size}"
    )
    # Untimed pass over every text first: the first encoding of each batch shape pays one-off
    # costs (allocator, kernel selection) that would otherwise land on whichever timing runs first.
    bare(model, dataset, args.batch_size)
    bares, polys = [], []
    for _ in range(args.rounds):  # alternate, keep the best of each
        bares.append(bare(model, dataset, args.batch_size))
        polys.append(polyret_eval(model, dataset, args.batch_size))
    t_bare = min(bares, key=lambda c: c.wall)
    t_poly, t_enc, t_score = min(polys, key=lambda p: p[0].wall)
    print(
        f"bare encoding of unique texts: {t_bare.wall:8.1f} s wall {t_bare.cpu:8.1f} s CPU",
        flush=True,
    )
    print(
        f"polyret, all {n_lang * n_lang + n_lang} settings: {t_poly.wall:8.1f} s wall {t_poly.cpu:8.1f} s CPU"
        f"  (encode {t_enc:.1f} s, score {t_score:.1f} s wall)",
        flush=True,
    )
    t_loop = st_loop(model, dataset, args.batch_size)
    print(
        f"sentence-transformers loop, {n_lang * n_lang} settings: {t_loop.wall:8.1f} s wall {t_loop.cpu:8.1f} s CPU",
        flush=True,
    )
    print(
        f"loop / polyret: {t_loop.wall / t_poly.wall:6.2f}x wall {t_loop.cpu / t_poly.cpu:6.2f}x CPU"
        "  (target >= 10x on all 11 XQuAD-R languages)"
    )
    print(
        f"polyret / bare: {t_poly.wall / t_bare.wall:6.2f}x wall {t_poly.cpu / t_bare.cpu:6.2f}x CPU"
        "  (target <= 1.2x)"
    )


if __name__ == "__main__":
    main()
