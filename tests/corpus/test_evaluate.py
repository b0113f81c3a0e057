from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval

from polyret.corpus import CorpusEvalConfig, run_corpus_eval
from polyret.errors import ConfigError, DataError


def trec_eval_means(qrels_path: Path, run_path: Path) -> dict[str, float]:
    """nDCG@10 and Recall@100 straight from the files, with pytrec_eval's own parsers."""
    with open(qrels_path) as f:
        qrels = pytrec_eval.parse_qrel(f)
    with open(run_path) as f:
        run = pytrec_eval.parse_run(f)
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    return {
        "ndcg@10": float(np.mean([s["ndcg_cut_10"] for s in scores.values()])),
        "recall@100": float(np.mean([s["recall_100"] for s in scores.values()])),
    }


def config(tiny_model_dir: Path, data: Path, out: Path, **overrides) -> CorpusEvalConfig:
    options = {
        "shard_size": 16,
        "batch_size": 8,
        "k": 20,
        "save_runs": True,
        "show_progress": False,
    }
    return CorpusEvalConfig(
        model=str(tiny_model_dir),
        dataset="miracl",
        data_dir=str(data),
        out_dir=out,
        **{**options, **overrides},
    )


def test_miracl_end_to_end_with_pool(tiny_model_dir: Path, miracl_data, tmp_path: Path) -> None:
    root, written = miracl_data
    out = tmp_path / "out"
    results = run_corpus_eval(config(tiny_model_dir, root, out, multilingual_pool=True))

    assert list(results["languages"]) == ["sw", "yo"]  # all languages found under the data root
    # what it returns is what it wrote, the run files' paths included
    assert json.loads((out / "results.json").read_text()) == results
    assert results["runs"]["pool"] == str(out / "runs" / "pool.dev.trec")
    sw = results["languages"]["sw"]
    assert sw["num_queries"] == 6 and sw["num_docs"] == 40 and sw["encode"]["shards"] == 3
    assert sw["encode"]["encoded_docs"] == 40 and sw["encode"]["docs_per_s"] > 0
    assert results["languages"]["yo"]["num_docs"] == 31

    # Every number equals trec_eval's on the written run and the official qrels file.
    for lang in ("sw", "yo"):
        run_path = out / "runs" / f"{lang}.dev.trec"
        qrels_path = (
            root / "miracl" / f"miracl-v1.0-{lang}" / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv"
        )
        expected = trec_eval_means(qrels_path, run_path)
        for metric, value in expected.items():
            assert results["languages"][lang]["metrics"][metric] == pytest.approx(value, abs=1e-12)
        lines = run_path.read_text().splitlines()
        assert len(lines) == 6 * 20  # k results for each of the 6 queries
        docids = {d["docid"] for d in written[lang]["docs"]}
        assert {line.split()[2] for line in lines} <= docids
    average = np.mean([results["languages"][lang]["metrics"]["ndcg@10"] for lang in ("sw", "yo")])
    assert results["average"]["ndcg@10"] == pytest.approx(average)

    pool = results["pool"]
    assert pool["num_docs"] == 71 and pool["num_queries"] == 12
    pool_lines = (out / "runs" / "pool.dev.trec").read_text().splitlines()
    assert pool_lines[0].split()[0].startswith(("sw:", "yo:")) and ":" in pool_lines[0].split()[2]
    for lang in ("sw", "yo"):
        entry = pool["languages"][lang]
        assert entry["relevant_own_share"] == 1.0  # MIRACL relevance is monolingual
        assert entry["pool_share"] == pytest.approx((40 if lang == "sw" else 31) / 71)
        assert 0.0 <= entry["own_share@10"] <= 1.0
        assert sum(entry["languages@10"].values()) == pytest.approx(1.0)
    # The pool's metrics are computed with prefixed ids against prefixed qrels.
    per_query = json.loads((out / "per_query.json").read_text())
    assert set(per_query["pool"]) == {
        f"{lang}:{100 + q}" for lang in ("sw", "yo") for q in range(6)
    }

    saved = json.loads((out / "results.json").read_text())
    assert saved["languages"]["sw"]["metrics"] == sw["metrics"]
    report = (out / "report.md").read_text()
    assert "| sw | 6 | 40 |" in report and "Multilingual pool (71 documents, 2 languages)" in report

    # A second evaluation reuses every shard and gives the same numbers.
    again = run_corpus_eval(config(tiny_model_dir, root, out, languages=["sw"]))
    assert again["languages"]["sw"]["encode"]["encoded_docs"] == 0
    assert again["languages"]["sw"]["encode"]["reused_shards"] == 3
    assert again["languages"]["sw"]["metrics"] == sw["metrics"]


def test_approximate_index_reports_recall(
    tiny_model_dir: Path, miracl_data, tmp_path: Path
) -> None:
    root, _ = miracl_data
    results = run_corpus_eval(
        config(tiny_model_dir, root, None, languages=["sw"], index="hnsw", dtype="float32")
    )
    search = results["languages"]["sw"]["search"]
    assert search["index"] == "hnsw" and 0.0 < search["recall_vs_exact"] <= 1.0
    assert search["params"]["M"] == 32


def test_ivf_with_more_probes_than_lists(tiny_model_dir: Path, miracl_data, tmp_path: Path) -> None:
    """A small corpus gets fewer IVF lists than the default nprobe (16): every list is probed,
    which is exact search."""
    root, _ = miracl_data
    options = {"languages": ["sw"], "encode_dir": tmp_path / "encodings"}
    exact = run_corpus_eval(config(tiny_model_dir, root, None, **options))
    ivf = run_corpus_eval(config(tiny_model_dir, root, None, index="ivf", nlist=2, **options))
    search = ivf["languages"]["sw"]["search"]
    assert search["params"] == {"nlist": 2, "nprobe": 2}
    assert search["recall_vs_exact"] == 1.0
    assert ivf["languages"]["sw"]["metrics"] == exact["languages"]["sw"]["metrics"]


def test_beir_folder(tiny_model_dir: Path, beir_data, tmp_path: Path) -> None:
    folder, written = beir_data
    out = tmp_path / "out"
    results = run_corpus_eval(
        CorpusEvalConfig(
            model=str(tiny_model_dir), dataset=f"beir:{folder}", out_dir=out, save_runs=True, k=10,
            shard_size=8, show_progress=False,
        )
    )  # fmt: skip
    assert results["split"] == "test"
    (label,) = results["languages"]
    entry = results["languages"][label]
    assert entry["num_queries"] == 5 and entry["num_docs"] == 30  # unjudged queries are left out
    with open(out / "runs" / f"{label}.test.trec") as f:
        run = pytrec_eval.parse_run(f)
    per_query = pytrec_eval.RelevanceEvaluator(written["qrels"], {"ndcg_cut.10"}).evaluate(run)
    assert entry["metrics"]["ndcg@10"] == pytest.approx(
        np.mean([s["ndcg_cut_10"] for s in per_query.values()])
    )


def test_missing_miracl_data_names_the_layout(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"miracl/miracl-v1.0-<lang>/topics/topics.miracl-v1.0-<lang>-<split>.tsv"
    ):
        run_corpus_eval(config(tiny_model_dir, tmp_path / "nothing", None))
    with pytest.raises(DataError, match="language 'sw', split 'dev' not found"):
        run_corpus_eval(config(tiny_model_dir, tmp_path / "nothing", None, languages=["sw"]))


def test_config_errors(tiny_model_dir: Path, miracl_data, tmp_path: Path) -> None:
    root, _ = miracl_data
    with pytest.raises(ConfigError, match="unknown corpus dataset 'msmarco'"):
        CorpusEvalConfig(model="m", dataset="msmarco")
    with pytest.raises(ConfigError, match="unknown index"):
        CorpusEvalConfig(model="m", dataset="miracl", index="lsh")
    with pytest.raises(ConfigError, match="at least two languages"):
        run_corpus_eval(
            config(tiny_model_dir, root, None, languages=["sw"], multilingual_pool=True)
        )


def test_centered_corpus_search_equals_brute_force_on_centered_vectors(
    tiny_model, miracl_data, tmp_path: Path
) -> None:
    """The corpus task behind polyret.evaluate: one encoding, searched plain and centered; the
    centered pool run is exact search over the debiaser's queries and passages, and the shards on
    disk stay plain."""
    import torch

    from polyret.corpus import CorpusTask
    from polyret.debias import Calibration
    from polyret.evaluate import Centering, evaluate

    root, _ = miracl_data
    out = tmp_path / "out"
    task = CorpusTask.load(
        config(Path("unused"), root, out, multilingual_pool=True, k=71, dtype="float32")
    )
    task.config.model = "tiny"  # only names the encoding folder and its header
    calibration = Calibration(
        {lang: [f"{lang} sentence {i} {lang * i}" for i in range(8)] for lang in ("sw", "yo")},
        source="test",
    )
    ev = evaluate(tiny_model, task, centering=Centering(calibration, batch_size=8))
    assert ev.debiaser is not None and ev.debiased is not None
    plain, centered = ev.result.summary(), ev.debiased.summary()
    assert set(plain) == set(centered) and "pool_own_share@10" in plain
    assert plain != centered

    def center(x: np.ndarray, kind: str) -> np.ndarray:
        return ev.debiaser.transform(torch.from_numpy(np.asarray(x, np.float32)), kind=kind).numpy()

    labels = task.languages
    docs = np.concatenate(
        [center(ev.embeddings.corpora[lang].corpus.vectors(), "passage") for lang in labels]
    )
    docids = [
        f"{lang}:{d}"
        for lang in labels
        for shard in ev.embeddings.corpora[lang].corpus.shards
        for d in ev.embeddings.corpora[lang].corpus.docids(shard)
    ]
    run = ev.debiased.runs["pool"]
    for lang in labels:
        queries = center(ev.embeddings.queries[lang], "query")
        qids = [q.qid for q in task.collections[labels.index(lang)].queries]
        for qid, scores in zip(qids, queries @ docs.T, strict=True):
            ranked = run[f"{lang}:{qid}"]
            best = max(ranked, key=ranked.get)
            assert ranked[best] == pytest.approx(float(scores.max()), abs=1e-5)
            assert ranked[docids[int(scores.argmax())]] == pytest.approx(ranked[best], abs=1e-5)
    # the stored shards are the plain encoding (re-searching them gives the plain run again)
    again = task.score(ev.embeddings)
    assert again.summary() == pytest.approx(plain)
