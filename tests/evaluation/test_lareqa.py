from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytrec_eval
import torch

from evaluation.lareqa_fixtures import hand_embeddings, write_hand_dataset, write_random_dataset
from polyret.data.lareqa import LareqaDataset, load_lareqa
from polyret.data.trec import read_qrels, read_run
from polyret.errors import ConfigError
from polyret.evaluation import (
    LareqaEmbeddings,
    LareqaEvalConfig,
    candidate_docnos,
    encode_lareqa,
    evaluate_lareqa,
    evaluate_lareqa_embeddings,
    language_bias,
    write_lareqa_runs,
)


@pytest.fixture
def hand(tmp_path: Path) -> LareqaDataset:
    return load_lareqa(write_hand_dataset(tmp_path / "hand"))


def test_hand_ranks(hand: LareqaDataset) -> None:
    r = evaluate_lareqa_embeddings(hand, hand_embeddings(), top_k=3)
    ranks = {name: s.ranks.tolist() for name, s in r.settings.items()}
    # Worked out by hand. Ties go to the larger docno: en-a000-p001-s000 (en2) before
    # en-a000-p000-s000 (en0), de4 before de3, and every en candidate before every de one.
    assert ranks == {
        "de->de": [[3], [1]],
        "en->en": [[2], [1], [1]],  # q2: en2 ties en0 and wins
        "de->en": [[1], [2]],  # q2: all en scores 0.0, en3 ranks before en2
        "en->de": [[2], [2]],  # q2: de3 ties de4 and loses; q3 absent in de
        "de->all": [[7, 1], [1, 3]],  # slots: de, en
        "en->all": [[5, 3], [4, 1], [0, 1]],
    }
    assert r.setting("en", "de").query_ids == ["q1", "q2"]
    assert r.setting("en", "all").n_candidates == 9


def test_hand_metrics(hand: LareqaDataset) -> None:
    r = evaluate_lareqa_embeddings(hand, hand_embeddings(), ks=(1, 5), top_k=3)
    multi = r.setting("en", "all").per_query
    idcg2 = 1 + 1 / math.log2(3)
    assert multi["ap"] == pytest.approx([(1 / 3 + 2 / 5) / 2, (1 + 2 / 4) / 2, 1.0])
    assert multi["ndcg@10"] == pytest.approx(
        [(1 / math.log2(4) + 1 / math.log2(6)) / idcg2, (1 + 1 / math.log2(5)) / idcg2, 1.0]
    )
    assert multi["recall@1"] == pytest.approx([0.0, 0.5, 1.0])
    assert multi["rank_distance"] == pytest.approx([2, 3, 0])
    assert multi["same_lang_first"] == pytest.approx([1, 1, 1])
    assert multi["same_lang_first_chance"] == pytest.approx([0.5, 0.5, 1.0])
    # top-3: q1 de0 en0 en1; q2 en2 en0 de4; q3 en3 de4 de3
    assert multi["own_lang_top3"] == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    de_multi = r.setting("de", "all").per_query
    assert de_multi["same_lang_first"] == pytest.approx([0, 1])
    assert de_multi["rank_distance"] == pytest.approx([6, 2])
    s = r.summary()
    assert s["mono_map"] == pytest.approx(((1 / 3 + 1) / 2 + (1 / 2 + 1 + 1) / 3) / 2)
    assert s["cross_map"] == pytest.approx(((1 + 1 / 2) / 2 + (1 / 2 + 1 / 2) / 2) / 2)
    de_multi_map = ((1 + 2 / 7) / 2 + (1 + 2 / 3) / 2) / 2
    en_multi_map = ((1 / 3 + 2 / 5) / 2 + (1 + 2 / 4) / 2 + 1) / 3
    assert s["multi_map"] == pytest.approx((de_multi_map + en_multi_map) / 2)
    # Bias measures leave out q3 (one answer: distance 0, own language first by construction):
    # en rank distance (2 + 3) / 2, not (2 + 3 + 0) / 3.
    assert s["rank_distance"] == pytest.approx((4 + 5 / 2) / 2)
    assert s["same_lang_first"] == pytest.approx((0.5 + 1) / 2)
    assert s["same_lang_first_chance"] == pytest.approx(0.5)
    assert r.setting("en", "all").mean()["own_lang_top3"] == pytest.approx(2 / 3)
    assert r.setting("en", "all").mean()["n_relevant"] == pytest.approx(5 / 3)  # every query
    assert r.to_dict()["bias_queries"] == {"used": 4, "left_out": 1}
    assert r.to_dict()["settings"]["en->all"]["n_bias_queries"] == 2
    assert s["mono_recall@1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert "seen_mono_map" not in s


def test_bias_table(hand: LareqaDataset) -> None:
    bias = language_bias(evaluate_lareqa_embeddings(hand, hand_embeddings()))
    assert bias["de"]["own_rank"] == pytest.approx((7 + 1) / 2)
    assert bias["de"]["other_rank"] == pytest.approx((1 + 3) / 2)
    # en: q3 (answer in en only) is left out of every bias measure
    assert bias["en"]["own_rank"] == pytest.approx((3 + 1) / 2)
    assert bias["en"]["other_rank"] == pytest.approx((5 + 4) / 2)
    assert bias["en"]["rank_distance"] == pytest.approx(5 / 2)
    assert bias["en"]["rank_distance_median"] == pytest.approx(5 / 2)
    assert (bias["en"]["n_queries"], bias["en"]["n_left_out"]) == (2, 1)
    assert (bias["de"]["n_queries"], bias["de"]["n_left_out"]) == (2, 0)


def test_bias_over_queries_with_two_answers() -> None:
    from polyret.evaluation import LareqaResult, SettingResult, setting_bias

    # aa: one query with answers in aa and bb (distance 4, bb first), two with an answer in aa
    # only; bb: only one-answer queries, so its bias measures are undefined (NaN) and left out of
    # the mean over query languages.
    aa = SettingResult("aa", "all", ["q1", "q2", "q3"], 10, [[5, 1], [1, 0], [1, 0]], ["aa", "bb"])
    bb = SettingResult("bb", "all", ["q4", "q5"], 10, [[0, 2], [0, 1]], ["aa", "bb"])
    assert list(aa.bias_mask) == [True, False, False] and bb.n_bias_queries == 0
    assert setting_bias(aa)["rank_distance"] == 4.0
    assert setting_bias(aa)["same_lang_first"] == 0.0  # over all three queries: 2/3
    assert math.isnan(setting_bias(bb)["rank_distance"])
    result = LareqaResult("t", ["aa", "bb"], {s.name: s for s in (aa, bb)})
    s = result.summary()
    assert (s["rank_distance"], s["same_lang_first"], s["same_lang_first_chance"]) == (4, 0, 0.5)
    # mAP still counts every query: aa (1 + 2/5) / 2, 1, 1; bb 1/2, 1
    assert s["multi_map"] == pytest.approx(((0.7 + 1 + 1) / 3 + (0.5 + 1) / 2) / 2)
    assert result.bias_queries() == (1, 4)


def test_seen_unseen_split(hand: LareqaDataset) -> None:
    r = evaluate_lareqa_embeddings(hand, hand_embeddings(), seen_languages=["en", "fr"])
    groups = {name: sorted(s.name for s in members) for name, members in r.groups().items()}
    assert groups["seen_mono"] == ["en->en"] and groups["unseen_mono"] == ["de->de"]
    assert "seen_cross" not in groups  # a cross pair is seen only when both languages are
    assert groups["unseen_cross"] == ["de->en", "en->de"]
    assert groups["seen_multi"] == ["en->all"] and groups["unseen_multi"] == ["de->all"]
    s = r.summary()
    assert s["seen_mono_map"] == pytest.approx(r.setting("en", "en").mean()["map"])
    assert s["unseen_rank_distance"] == pytest.approx(4.0)
    d = r.to_dict()
    assert d["settings"]["en->de"]["seen"] is False and d["seen_languages"] == ["en", "fr"]


def test_identical_embeddings_tie_by_docno(hand: LareqaDataset) -> None:
    emb = hand_embeddings()
    emb.candidates["en"][2] = emb.candidates["en"][
        0
    ]  # en2 == en0: identical scores for every query
    r = evaluate_lareqa_embeddings(hand, emb)
    # q1 (en): en0 0.8 and en2 now also 0.8, so en2 (larger docno) ranks first: en1 drops to 3
    assert r.setting("en", "en").ranks[:, 0].tolist() == [3, 1, 1]


def _random_embeddings(ds: LareqaDataset, seed: int, dim: int = 3) -> LareqaEmbeddings:
    """Small integer vectors: many exact ties, some identical candidates."""
    g = torch.Generator().manual_seed(seed)

    def draw(n: int) -> torch.Tensor:
        return torch.randint(-1, 2, (n, dim), generator=g).float()

    return LareqaEmbeddings(
        {lang: draw(len(d.questions)) for lang, d in ds.languages.items()},
        {lang: draw(len(d.candidates)) for lang, d in ds.languages.items()},
    )


def test_chunk_size_invariance(tmp_path: Path) -> None:
    ds = load_lareqa(write_random_dataset(tmp_path / "r", n_articles=4))
    emb = _random_embeddings(ds, 1, dim=8)
    results = [evaluate_lareqa_embeddings(ds, emb, chunk_size=c) for c in (1, 3, 1000)]
    for r in results[1:]:
        assert r.settings.keys() == results[0].settings.keys()
        for name, s in r.settings.items():
            np.testing.assert_array_equal(s.ranks, results[0].settings[name].ranks)
            for key, values in s.per_query.items():
                np.testing.assert_array_equal(values, results[0].settings[name].per_query[key])


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_pytrec_eval_on_written_runs(tmp_path: Path, seed: int) -> None:
    ds = load_lareqa(write_random_dataset(tmp_path / "r", n_articles=4, seed=seed))
    emb = _random_embeddings(ds, seed)
    ks = (1, 5, 10)
    r = evaluate_lareqa_embeddings(ds, emb, ks=ks, chunk_size=4)
    info = write_lareqa_runs(ds, emb, tmp_path / "trec", depth=None, chunk_size=5)
    assert info["depth"] == "full pool"
    measures = {"map", "ndcg_cut_10", *(f"recall_{k}" for k in ks)}
    names = {"map": "ap", "ndcg_cut_10": "ndcg@10", **{f"recall_{k}": f"recall@{k}" for k in ks}}
    n_cross = 0
    for name, s in r.settings.items():
        stem = name.replace("->", "-")
        run = read_run(tmp_path / "trec" / "runs" / f"{stem}.run")
        qrels = read_qrels(tmp_path / "trec" / "qrels" / f"{stem}.qrels")
        assert sorted(qrels) == sorted(s.query_ids)
        assert all(len(docs) == s.n_candidates for docs in run.values())  # full pool
        ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for measure, ours in names.items():
            expected = [ref[q][measure] for q in s.query_ids]
            np.testing.assert_allclose(
                s.per_query[ours], expected, atol=1e-6, err_msg=f"{name} {measure}"
            )
        n_cross += s.kind == "cross"
    assert n_cross == 6


def test_runs_top_k_depth(tmp_path: Path, hand: LareqaDataset) -> None:
    write_lareqa_runs(hand, hand_embeddings(), tmp_path / "trec", depth=2)
    run = read_run(tmp_path / "trec" / "runs" / "en-all.run")
    assert run["q2"] == {
        "en-a000-p001-s000": 0.6000000238418579,
        "en-a000-p000-s000": 0.6000000238418579,
    }
    lines = (tmp_path / "trec" / "runs" / "en-de.run").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["q1", "q1", "q2", "q2"]  # q3 has no answer in de
    assert read_qrels(tmp_path / "trec" / "qrels" / "de-all.qrels")["q1"] == {
        "de-a000-p000-s002": 1,
        "en-a000-p000-s001": 1,
    }


def test_docnos_zero_padded(hand: LareqaDataset) -> None:
    docnos = candidate_docnos(hand)
    assert docnos["de"] == [
        f"de-a000-p00{p}-s00{s}" for p, s in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1))
    ]


def test_embedding_shape_errors(hand: LareqaDataset) -> None:
    emb = hand_embeddings()
    emb.candidates["en"] = emb.candidates["en"][:3]
    with pytest.raises(
        ConfigError, match=r"candidates\['en'\] has shape \(3, 9\), expected \(4, d\)"
    ):
        evaluate_lareqa_embeddings(hand, emb)
    emb = hand_embeddings()
    emb.queries["de"][1, 0] = float("nan")
    with pytest.raises(ConfigError, match=r"queries\['de'\] holds NaN"):
        evaluate_lareqa_embeddings(hand, emb)
    with pytest.raises(ConfigError, match="chunk_size"):
        evaluate_lareqa_embeddings(hand, hand_embeddings(), chunk_size=0)
    with pytest.raises(ConfigError, match="candidate_text='para': must be one of"):
        LareqaEvalConfig(candidate_text="para")


class CountingModel:
    """The real tiny model, recording the texts it is asked to encode."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[tuple[str, list[str]]] = []

    def encode_query(self, texts: list[str], **kw: Any) -> torch.Tensor:
        self.calls.append(("query", list(texts)))
        return self.model.encode_query(texts, **kw)

    def encode_document(self, texts: list[str], **kw: Any) -> torch.Tensor:
        self.calls.append(("document", list(texts)))
        return self.model.encode_document(texts, **kw)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


def test_encode_each_unique_text_once(tmp_path: Path, tiny_model: Any) -> None:
    folder = write_hand_dataset(tmp_path / "hand")
    ds = load_lareqa(folder)
    spy = CountingModel(tiny_model)
    emb = encode_lareqa(spy, ds, batch_size=4, show_progress=False)
    kinds = [k for k, _ in spy.calls]
    assert kinds == ["query", "document"]
    texts = spy.calls[1][1]
    assert len(texts) == len(set(texts)) == 9
    expected = tiny_model.encode_document(["Beta zwei."], convert_to_tensor=True)[0]
    torch.testing.assert_close(emb.candidates["de"][4], expected.float())
    expected_q = tiny_model.encode_query(["Which beta?"], convert_to_tensor=True)[0]
    torch.testing.assert_close(emb.queries["en"][1], expected_q.float())
    assert emb.queries["en"].dtype == torch.float32 and emb.queries["en"].shape == (3, 32)

    ctx = encode_lareqa(
        CountingModel(tiny_model), ds, candidate_text="sentence+context", show_progress=False
    )
    assert ctx.candidate_text == "sentence+context"
    assert not torch.allclose(ctx.candidates["de"], emb.candidates["de"])


def test_no_progress_switches_off_the_encoding_bars(
    tmp_path: Path,
    tiny_model: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--no-progress`` (TQDM_DISABLE) wins over a config's ``show_progress=True``: an
    experiment run with it logs no encoding bars."""
    ds = load_lareqa(write_random_dataset(tmp_path / "r"))
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # an earlier --no-progress in this process
    encode_lareqa(tiny_model, ds, batch_size=8, show_progress=True)
    assert "encode_query" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    encode_lareqa(tiny_model, ds, batch_size=8, show_progress=True)
    assert capsys.readouterr().err == ""


class TokenizingSpy(CountingModel):
    """The spy with the model's tokenizer: encode_lareqa batches by token length."""

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @property
    def max_seq_length(self) -> int:
        return self.model.max_seq_length


def test_batches_are_cut_by_token_length(tmp_path: Path, tiny_model: Any) -> None:
    ds = load_lareqa(write_random_dataset(tmp_path / "r"))
    spy = TokenizingSpy(tiny_model)
    emb = encode_lareqa(spy, ds, batch_size=8, show_progress=False)
    documents = [texts for kind, texts in spy.calls if kind == "document"]
    assert len(documents) > 2 and all(len(batch) <= 8 for batch in documents)
    lengths = [
        [len(ids) for ids in tiny_model.tokenizer(batch, add_special_tokens=False)["input_ids"]]
        for batch in documents
    ]
    for longer, shorter in itertools.pairwise(lengths):
        assert min(longer) >= max(shorter)  # one sorted order cut into batches
    # every row is its own text's embedding, whatever batch it was in
    plain = encode_lareqa(CountingModel(tiny_model), ds, batch_size=8, show_progress=False)
    for lang in ds.langs:
        torch.testing.assert_close(emb.candidates[lang], plain.candidates[lang], atol=1e-5, rtol=0)
        torch.testing.assert_close(emb.queries[lang], plain.queries[lang], atol=1e-5, rtol=0)


def test_evaluate_lareqa_end_to_end(tmp_path: Path, tiny_model: Any) -> None:
    ds = load_lareqa(write_random_dataset(tmp_path / "r"))
    r = evaluate_lareqa(
        tiny_model, ds, LareqaEvalConfig(batch_size=16, show_progress=False, seen_languages=["aa"])
    )
    assert {s.kind for s in r.settings.values()} == {"mono", "cross", "multi"}
    assert 0 < r.summary()["mono_map"] <= 1
    assert r.candidate_text == "sentence" and r.timings["encode"] > 0
    assert "docno descending" in r.tie_rule


@pytest.fixture(scope="module")
def short_model(tiny_model_dir: Path) -> Any:
    """The tiny model truncating at 24 tokens: the real-data tests check counts and wiring, not quality."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    model.max_seq_length = 24
    return model


@pytest.mark.integration
def test_real_xquad_r_counts(shared_data: Path, short_model: Any) -> None:
    ds = load_lareqa(shared_data / "lareqa" / "xquad-r")
    config = LareqaEvalConfig(batch_size=1024, show_progress=False, chunk_size=1024)
    r = evaluate_lareqa(short_model, ds, config)
    assert len(r.languages) == 11
    assert len(r.of_kind("mono")) == 11
    assert len(r.of_kind("cross")) == 110
    assert len(r.of_kind("multi")) == 11
    assert all(s.n_queries == 1190 for s in r.settings.values())
    assert r.setting("en", "all").n_candidates == 13014
    assert r.setting("th", "th").n_candidates == 852
    assert (r.setting("de", "all").per_query["n_relevant"] == 11).all()
    assert 0 < r.summary()["multi_map"] < 1


@pytest.mark.integration
def test_real_mlqa_r_shared_ids(shared_data: Path, short_model: Any) -> None:
    ds = load_lareqa(shared_data / "lareqa" / "mlqa-r")
    emb = encode_lareqa(short_model, ds, batch_size=1024, show_progress=False)
    r = evaluate_lareqa_embeddings(ds, emb, chunk_size=1024)
    cross = r.of_kind("cross")
    assert len(cross) == 42
    for s in cross:
        assert s.query_ids == ds.shared_ids(s.query_lang, s.candidate_lang)
        assert 161 <= s.n_queries <= 517
    assert r.setting("en", "en").n_queries == 1148
    assert r.setting("en", "all").n_candidates == 20534
    n_rel = r.setting("en", "all").per_query["n_relevant"]
    assert sorted(set(n_rel.tolist())) == [2.0, 3.0, 4.0]
