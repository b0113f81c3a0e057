"""NTREX-128 sentence retrieval: records, hand-checked ranks and metrics, bias, brute force, store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ntrex_fixture import write_ntrex
from polyret.data.lareqa import LareqaDataset
from polyret.debias import Calibration, load_calibration
from polyret.errors import ConfigError
from polyret.evaluation import (
    LareqaEmbeddings,
    NtrexEvalConfig,
    candidate_docnos,
    check_held_out,
    compare_results,
    evaluate_ntrex,
    evaluate_ntrex_embeddings,
    language_bias,
    load_ntrex_eval,
    score_ntrex,
)

CODES = {"en": "src.eng", "de": "deu", "zh": "zho-CN"}


def write_hand_ntrex(root: Path) -> Path:
    """Evaluation lines 1, 2 (doc.c) and 15 (doc.k); lines 3-14 are calibration (doc.a)."""
    docs = ["doc.c", "doc.c", *["doc.a"] * 12, "doc.k"]
    lines = {
        code: [f"{lang} line {i + 1}" for i in range(len(docs))] for lang, code in CODES.items()
    }
    write_ntrex(root, lines, docs)
    return root


@pytest.fixture
def hand(tmp_path: Path) -> LareqaDataset:
    return load_ntrex_eval(["en", "de", "zh"], data_dir=write_hand_ntrex(tmp_path))


def test_records(hand: LareqaDataset) -> None:
    assert hand.name == "ntrex-128" and hand.langs == ["de", "en", "zh"]
    en = hand.languages["en"]
    assert [q.id for q in en.questions] == ["ntrex:1", "ntrex:2", "ntrex:15"]
    assert [q.answer for q in en.questions] == [0, 1, 2]  # every sentence answers itself
    assert [c.text for c in en.candidates] == ["en line 1", "en line 2", "en line 15"]
    assert en.candidates[1].context == "en line 1 en line 2"  # its document
    assert hand.shared_ids("en", "de") == ["ntrex:1", "ntrex:2", "ntrex:15"]
    assert candidate_docnos(hand)["zh"] == [
        "zh-a000-p000-s000", "zh-a000-p000-s001", "zh-a001-p000-s000",
    ]  # fmt: skip
    # the clusters of the significance tests: the documents
    assert hand.question_articles() == {"ntrex:1": "doc.c", "ntrex:2": "doc.c", "ntrex:15": "doc.k"}
    texts = {c.text for d in hand.languages.values() for c in d.candidates}
    assert not any(f"line {i}" in texts for i in range(3, 15))  # no calibration line


# Hand scores. Pool order de0 de1 de2 | en0 en1 en2 | zh0 zh1 zh2; candidate j is the one-hot
# e_j, so an en query's score for candidate j is its j-th entry. The query's own slot (9.0) is
# the query itself and must be removed. Ties rank the larger docno first: zh > en > de, then
# doc.k (a001) before doc.c (a000), then the later sentence.
HAND_EN = [
    [0.5, 0.1, 0.0, 9.0, 0.7, 0.2, 0.9, 0.3, 0.0],  # en line 1: zh0 en1 de0 zh1 en2 de1 zh2 de2
    [0.0, 0.4, 0.0, 0.8, 9.0, 0.0, 0.0, 0.4, 0.6],  # en line 2: en0 zh2 zh1 de1 (zh1 wins the tie)
    [0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0],  # en line 15: all tie: zh2 zh1 zh0 en1 en0 de2
]


def hand_embeddings() -> LareqaEmbeddings:
    eye = torch.eye(9)
    queries = {"en": torch.tensor(HAND_EN), "de": eye[:3], "zh": eye[6:]}
    return LareqaEmbeddings(queries, {"de": eye[:3], "en": eye[3:6], "zh": eye[6:]})


def test_hand_ranks_and_metrics(hand: LareqaDataset) -> None:
    r = evaluate_ntrex_embeddings(hand, hand_embeddings(), top_k=3)
    assert r.to_dict()["n_settings"] == {"mono": 0, "cross": 6, "multi": 3}
    assert r.setting("en", "de").ranks[:, 0].tolist() == [1, 1, 1]  # de2 wins the 3-way tie
    assert r.setting("en", "zh").ranks[:, 0].tolist() == [1, 2, 1]
    multi = r.setting("en", "all")
    assert multi.rank_langs == ["de", "en", "zh"] and multi.n_candidates == 8  # itself removed
    assert multi.ranks.tolist() == [[3, 0, 1], [4, 0, 3], [6, 0, 1]]
    pq = multi.per_query
    assert pq["ap"] == pytest.approx([(1 + 2 / 3) / 2, (1 / 3 + 2 / 4) / 2, (1 + 2 / 6) / 2])
    assert pq["mrr@10"] == pytest.approx([1, 1 / 3, 1])
    assert pq["accuracy@1"] == pytest.approx([1, 0, 1])
    assert pq["recall@1"] == pytest.approx([0.5, 0, 0.5])  # recall divides by 2 translations
    assert pq["rank_distance"] == pytest.approx([2, 1, 5])
    # a same-language sentence (en line 1) ranks before every translation only for line 2
    assert pq["same_lang_first"] == pytest.approx([0, 1, 0])
    assert pq["same_lang_first_chance"] == pytest.approx([2 / 4] * 3)  # 2 distractors, 2 answers
    assert pq["own_lang_top3"] == pytest.approx([1 / 3, 1 / 3, 0])
    cross = r.setting("en", "zh").mean()
    assert (cross["map"], cross["mrr@10"], cross["accuracy@1"]) == pytest.approx(
        (5 / 6, 5 / 6, 2 / 3)
    )
    bias = language_bias(r)["en"]
    assert bias["rank_distance"] == pytest.approx(8 / 3)
    assert bias["same_lang_first"] == pytest.approx(1 / 3)
    assert bias["same_lang_first_chance"] == pytest.approx(0.5)
    assert bias["own_lang_top3"] == pytest.approx(2 / 9)
    assert np.isnan(bias["own_rank"])  # no own-language answer: it is the query itself
    assert bias["other_rank"] == pytest.approx((3 + 1 + 4 + 3 + 6 + 1) / 6)
    s = r.summary()
    assert "mono_map" not in s and s["multi_map"] == pytest.approx(
        np.mean([r.setting(x, "all").mean()["map"] for x in ("de", "en", "zh")])
    )


def _reference(ds: LareqaDataset, emb: LareqaEmbeddings, top_k: int) -> dict[str, object]:
    """Every rank by sorting each query's full pool: score desc, docno desc, itself removed."""
    langs = ds.langs
    docnos = candidate_docnos(ds)
    pool = [(y, j) for y in langs for j in range(len(ds.languages[y].candidates))]
    names = [docnos[y][j] for y, j in pool]
    matrix = torch.cat([emb.candidates[y] for y in langs]).double()
    out: dict[str, object] = {}
    for x in langs:
        cross = {y: [] for y in langs if y != x}
        multi, first, top = [], [], []
        for i, q in enumerate(emb.queries[x].double()):
            scores = (matrix @ q).tolist()
            order = sorted(range(len(pool)), key=lambda c: names[c], reverse=True)
            order.sort(key=lambda c: -scores[c])
            order = [c for c in order if pool[c] != (x, i)]  # itself removed
            for y in cross:
                block = [c for c in order if pool[c][0] == y]
                cross[y].append([block.index(_at(pool, y, i)) + 1])
            ranks = [0 if y == x else order.index(_at(pool, y, i)) + 1 for y in langs]
            multi.append(ranks)
            best = min(r for r in ranks if r)
            first.append(float(any(pool[c][0] == x for c in order[: best - 1])))
            top.append(np.mean([pool[c][0] == x for c in order[:top_k]]))
        for y, ranks in cross.items():
            out[f"{x}->{y}"] = ranks
        out[f"{x}->all"] = (multi, first, top)
    return out


def _at(pool: list[tuple[str, int]], lang: str, index: int) -> int:
    return pool.index((lang, index))


def test_equals_brute_force_with_ties(tmp_path: Path) -> None:
    docs = ["doc.c"] * 4 + ["doc.a"] * 12 + ["doc.k"] * 3 + ["doc.l"] * 2
    lines = {code: [f"{lang} {i}" for i in range(len(docs))] for lang, code in CODES.items()}
    write_ntrex(tmp_path, lines, docs)
    ds = load_ntrex_eval(["en", "de", "zh"], data_dir=tmp_path)
    g = torch.Generator().manual_seed(0)

    def draw(n: int) -> torch.Tensor:  # small integer vectors: many exact ties and duplicates
        return torch.randint(-1, 2, (n, 3), generator=g).float()

    emb = LareqaEmbeddings({x: draw(9) for x in ds.langs}, {x: draw(9) for x in ds.langs})
    ref = _reference(ds, emb, top_k=4)
    for chunk in (1, 4, 512):  # chunking does not change a number
        r = evaluate_ntrex_embeddings(ds, emb, chunk_size=chunk, top_k=4)
        for name, s in r.settings.items():
            if s.kind == "cross":
                assert s.ranks.tolist() == ref[name], name
            else:
                multi, first, top = ref[name]
                assert s.ranks.tolist() == multi, name
                assert s.per_query["same_lang_first"].tolist() == first, name
                assert s.per_query["own_lang_top4"] == pytest.approx(top), name


def test_result_saves_and_loads(hand: LareqaDataset, tmp_path: Path) -> None:
    from polyret.evaluation.store import load_result, save_result

    r = evaluate_ntrex_embeddings(hand, hand_embeddings(), top_k=3)
    back = load_result(save_result(r, tmp_path / "saved", {"model": "hand"}))
    assert back.summary() == pytest.approx(r.summary())
    assert back.tie_rule == r.tie_rule
    for name, s in r.settings.items():
        t = back.settings[name]
        assert t.extra_metrics == ("mrr@10", "accuracy@1")
        for key, values in s.per_query.items():
            assert t.per_query[key] == pytest.approx(values, rel=1e-6), (name, key)


def test_calibration_from_evaluated_sentences_is_refused(
    hand: LareqaDataset, tmp_path: Path
) -> None:
    leaked = {"de": ["de line 5", "de line 2"]}  # line 2 is evaluated
    with pytest.raises(ConfigError, match="1 calibration sentences of language 'de' are evaluated"):
        check_held_out(leaked, hand)
    check_held_out({"de": ["de line 5"], "fr": ["de line 2"]}, hand)  # other text: fine
    folder = Calibration({"en": ["en line 15"]}, "my/folder", {"en": "my/folder/en.txt"})
    with pytest.raises(ConfigError, match=r"my/folder/en\.txt: 1 calibration sentences"):
        check_held_out(folder, hand)
    # NTREX's own calibration text is its calibration part
    calibration = load_calibration("ntrex", languages=["en", "de"], sentences=10, data_dir=tmp_path)
    assert not {t for ts in calibration.texts.values() for t in ts} & {
        c.text for d in hand.languages.values() for c in d.candidates
    }
    check_held_out(calibration, hand)


def test_tiny_model_one_encoding_plain_and_centered(
    hand: LareqaDataset, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    from polyret.debias import fit_centering

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    config = NtrexEvalConfig(batch_size=8, show_progress=False)
    emb = config.encode(model, hand)
    assert emb.n_unique_queries == emb.n_unique_candidates == 9  # each sentence once per prompt
    # the query prompt and the passage prompt give different vectors
    assert not torch.allclose(emb.queries["en"], emb.candidates["en"])
    base = score_ntrex(hand, emb, config=config)
    assert base.summary() == pytest.approx(evaluate_ntrex(model, hand, config=config).summary())
    calibration = load_calibration("ntrex", languages=hand.langs, sentences=10, data_dir=tmp_path)
    debiaser = fit_centering(model, calibration, batch_size=8)
    centered = score_ntrex(hand, emb, config=config, debiaser=debiaser)
    assert centered.summary() != base.summary()
    assert centered.to_dict()["n_settings"] == base.to_dict()["n_settings"]
    # significance tests take the documents as clusters
    test = compare_results(centered, base, "multi", hand.question_articles(), paired_seeds=True)
    assert test.n_articles == 2
    assert test.diff == pytest.approx(centered.summary()["multi_map"] - base.summary()["multi_map"])


def test_option_errors(hand: LareqaDataset, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 2 languages"):
        load_ntrex_eval(["en"], data_dir=tmp_path)
    with pytest.raises(ConfigError, match="mrr_k"):
        evaluate_ntrex_embeddings(hand, hand_embeddings(), mrr_k=0)
    with pytest.raises(ConfigError, match="batch_size"):
        NtrexEvalConfig(batch_size=0)


@pytest.mark.integration
def test_staged_evaluation_part(shared_data: Path) -> None:
    ds = load_ntrex_eval(["en", "de", "th"], data_dir=shared_data)
    assert {len(d.questions) for d in ds.languages.values()} == {1052}
    assert len(set(ds.question_articles().values())) == 62
    assert ds.languages["en"].questions[0].id == "ntrex:1"
    assert ds.languages["en"].questions[-1].id == "ntrex:1988"
