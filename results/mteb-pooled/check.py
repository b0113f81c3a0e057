"""The bundled model on XQuAD-R's full pool, through mteb's own runner and through polyret's.

    POLYRET_DATA=../shared/data python results/mteb-pooled/check.py [EMBEDDING_CACHE_DIR]

Writes xquad-r-base.json next to this file. mteb's embedding cache (default
/tmp/polyret-mteb-cache) encodes each text once across the 11 subsets.
"""

import json
import sys
import time
from pathlib import Path

import mteb

from polyret.data.lareqa import load_lareqa
from polyret.evaluation.bias import language_bias
from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa
from polyret.evaluation.mteb_tasks import pooled_task
from polyret.models import load_model

BIAS = ("rank_distance", "same_lang_first", "own_lang_top10")
cache = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/polyret-mteb-cache")
model = load_model("bundled:multilingual-e5-small", device="cpu")
task = pooled_task("xquad-r")
start = time.time()
wrapped = mteb.models.SentenceTransformerEncoderWrapper(model)
result = mteb.evaluate(mteb.models.CachedEmbeddingWrapper(wrapped, cache), task, cache=None)
mteb_seconds = time.time() - start
subsets = {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}
start = time.time()
own = evaluate_lareqa(model, load_lareqa("xquad-r"), LareqaEvalConfig(show_progress=False))
own_seconds = time.time() - start
bias = language_bias(own)
main = task.metadata.main_score
rows = {
    s.query_lang: {
        "mteb_map": subsets[s.query_lang][main],
        "polyret_map": s.mean()["map"],
        **{f"mteb_{k}": subsets[s.query_lang][k] for k in BIAS},
        **{f"polyret_{k}": bias[s.query_lang][k] for k in BIAS},
    }
    for s in own.of_kind("multi")
}
report = {
    "task": task.metadata.name,
    "main_score": main,
    "mteb_version": mteb.__version__,
    "mteb_score": result.task_results[0].get_score(),
    "polyret_multi_map": own.summary()["multi_map"],
    "mteb_seconds": mteb_seconds,
    "polyret_seconds": own_seconds,
    "per_query_language": rows,
    # the mean over the query languages scored (all of them here)
    "polyret_multi_map_same_languages": sum(r["polyret_map"] for r in rows.values()) / len(rows),
    "max_abs_diff_map": max(abs(r["mteb_map"] - r["polyret_map"]) for r in rows.values()),
}
print(json.dumps(report, indent=1))
(Path(__file__).parent / "xquad-r-base.json").write_text(json.dumps(report, indent=1) + "\n")
