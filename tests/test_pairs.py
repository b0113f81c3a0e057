"""Training pairs from LAReQA-format QA and NTREX-128: tiny fixtures, properties, real data."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lareqa_fixture import write_lareqa, write_mlqa_like
from polyret.data.lareqa import LareqaDataset, load_lareqa
from polyret.errors import ConfigError, DataError
from polyret.pairs import (
    METADATA_COLUMNS,
    PairSet,
    TrainingPair,
    add_hard_negatives,
    build_alignment_pairs,
    build_pairs,
    fingerprint_texts,
    load_ntrex_pairs,
    normalize_title,
    passage_text,
    resolve_language_pairs,
    split_by_article,
)


@pytest.fixture
def tiny(tmp_path: Path) -> LareqaDataset:
    return load_lareqa(write_mlqa_like(tmp_path / "tiny"))


HOLDERS = {"q1": "de en", "q2": "en", "q3": "de en fr", "q4": "en fr", "q5": "de en", "q6": "de en"}


def test_all_pairs(tiny: LareqaDataset) -> None:
    pairs = build_pairs(tiny)
    assert len(pairs) == sum(len(h.split()) ** 2 for h in HOLDERS.values())  # 4+1+9+4+4+4
    by_key = {(p.group, p.query_lang, p.passage_lang): p for p in pairs}
    assert set(by_key) == {
        (q, a, b) for q, h in HOLDERS.items() for a in h.split() for b in h.split()
    }
    p = by_key["q3", "de", "fr"]
    assert p == TrainingPair("de question q3?", "fr alpha s0.", "de", "fr", "q3")
    assert by_key["q5", "en", "de"].passage == "de alpha s0."
    assert by_key["q1", "de", "de"].passage == "de prime s1."
    # rows: by id (first seen over sorted languages: de, en, fr), then by language pair
    assert [p.group for p in pairs][:4] == ["q1"] * 4
    assert pairs.summary()["mono"] == sum(len(h.split()) for h in HOLDERS.values())


def test_language_pair_filters(tiny: LareqaDataset) -> None:
    mono = build_pairs(tiny, language_pairs="mono")
    assert all(p.query_lang == p.passage_lang for p in mono) and len(mono) == 12
    cross = build_pairs(tiny, language_pairs="cross")
    assert all(p.query_lang != p.passage_lang for p in cross) and len(cross) == 26 - 12
    de_en = build_pairs(tiny, language_pairs=["de-en", ("en", "de")])
    assert de_en.counts() == {"de-en": 4, "en-de": 4}
    two = build_pairs(tiny, languages=["en", "fr"])
    assert set(two.languages) == {"en", "fr"}
    assert two.counts() == {"en-en": 6, "en-fr": 2, "fr-en": 2, "fr-fr": 2}


def test_context_and_ids(tiny: LareqaDataset) -> None:
    pairs = build_pairs(tiny, context=True, ids={"q6"}, language_pairs=["en-de"])
    assert pairs.pairs == [
        TrainingPair(
            "en question q6?",
            "de gamma s2. de gamma s0. de gamma s1. de gamma s2.",
            "en",
            "de",
            "q6",
            "de:2:0",  # the paragraph: every question of it shares this passage
        )
    ]


def test_links_join_groups_that_share_a_query_or_passage() -> None:
    pairs = PairSet(
        [
            TrainingPair("q1", "same answer", "en", "en", "a"),
            TrainingPair("q2", "same answer", "en", "en", "b"),  # same passage as a
            TrainingPair("q3", "x", "en", "en", "c"),
            TrainingPair("q3", "y", "en", "en", "d"),  # same query as c
            TrainingPair("q5", "z1", "en", "en", "e", "en:1:0"),
            TrainingPair("q6", "z2", "en", "en", "f", "en:1:0"),  # same paragraph as e
            TrainingPair("q7", "w", "en", "en", "g"),
            TrainingPair("q7 de", "w de", "en", "de", "g"),  # same group as g
        ]
    )
    link = pairs.links()
    assert link[0] == link[1] and link[2] == link[3] and link[4] == link[5] and link[6] == link[7]
    assert len(set(link.tolist())) == 4
    meta = pairs.metadata()
    assert (meta.exclusive == link).all() and len(meta.groups) == 7


def test_exclude_titles(tiny: LareqaDataset) -> None:
    assert normalize_title("  Prime_NUMBER ") == normalize_title("prime  number") == "prime number"
    groups = {p.group for p in build_pairs(tiny, exclude_titles=["prime number"])}
    assert groups == {"q3", "q4", "q5", "q6"}
    # A title in any language excludes the id: only q1 sits in de "Primzahl".
    groups = {p.group for p in build_pairs(tiny, exclude_titles=["PRIMZAHL"])}
    assert groups == {"q2", "q3", "q4", "q5", "q6"}
    # ...also a title in a loaded language that is not used for pairs.
    groups = {p.group for p in build_pairs(tiny, languages=["de"], exclude_titles=["Prime number"])}
    assert groups == {"q3", "q5", "q6"}


def test_build_errors(tiny: LareqaDataset) -> None:
    with pytest.raises(ConfigError, match=r"unknown language\(s\) \['xx'\]"):
        build_pairs(tiny, languages=["en", "xx"])
    with pytest.raises(ConfigError, match="unknown language"):
        build_pairs(tiny, language_pairs=["de-xx"])
    with pytest.raises(ConfigError, match="language_pairs='bilingual'"):
        build_pairs(tiny, language_pairs="bilingual")
    with pytest.raises(ConfigError, match="expected '<query_lang>-<passage_lang>'"):
        build_pairs(tiny, language_pairs=["deen"])
    with pytest.raises(ConfigError, match="no training pairs"):
        build_pairs(tiny, ids=[])
    with pytest.raises(ConfigError, match="no training pairs"):
        build_pairs(tiny, languages=["fr"], language_pairs="cross")
    with pytest.raises(ConfigError, match="list of titles"):
        build_pairs(tiny, exclude_titles="Alpha")


def test_dataset_and_metadata(tiny: LareqaDataset) -> None:
    pairs = build_pairs(tiny)
    ds = pairs.to_dataset()
    assert ds.column_names == ["query", "passage"]
    assert not set(ds.column_names) & set(METADATA_COLUMNS)
    meta = pairs.metadata()
    assert len(meta) == len(pairs) == len(ds)
    for i, p in enumerate(pairs):
        assert meta.row(i) == (p.query_lang, p.passage_lang, p.group)
        assert ds[i] == {"query": p.query, "passage": p.passage}
    assert meta.fingerprint == fingerprint_texts(ds["query"][:], ds["passage"][:])
    both = pairs + PairSet([TrainingPair("x", "y", "en", "zh", "ntrex:1")])
    assert len(both) == len(pairs) + 1 and both.metadata().languages == ("de", "en", "fr", "zh")


def test_resolve_language_pairs() -> None:
    assert resolve_language_pairs("all", ["b", "a"]) == [
        ("a", "a"),
        ("a", "b"),
        ("b", "a"),
        ("b", "b"),
    ]
    assert resolve_language_pairs("cross", ["a", "b"]) == [("a", "b"), ("b", "a")]
    assert resolve_language_pairs([" b - a "], ["a", "b"]) == [("b", "a")]
    with pytest.raises(ConfigError, match="empty"):
        resolve_language_pairs([], ["a"])


def write_ntrex(root: Path, lines: dict[str, list[str]], docs: list[str]) -> Path:
    folder = root / "ntrex-128"
    (folder / "NTREX-128").mkdir(parents=True)
    (folder / "DOCUMENT_IDS.tsv").write_text("".join(d + "\n" for d in docs))
    for code, text in lines.items():
        name = (
            "newstest2019-src.eng.txt.gz"
            if code == "src.eng"
            else f"newstest2019-ref.{code}.txt.gz"
        )
        with gzip.open(folder / "NTREX-128" / name, "wt", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in text))
    return folder


@pytest.fixture
def ntrex(tmp_path: Path) -> Path:
    return write_ntrex(
        tmp_path,
        {
            "src.eng": ["One.", "Two.", "Three.", "Four.", "Five.", "Six."],
            "deu": ["Eins.", "Zwei.", "", "Vier.", "Fünf.", "Sechs."],
            "zho-CN": ["一。", "二。", "三。", "四。", "五。", "六。"],
        },
        # doc.c is in NTREX's evaluation part: never a training pair
        ["doc.a", "doc.a", "doc.b", "doc.b", "doc.b", "doc.c"],
    )


def test_ntrex_sentence_pairs(ntrex: Path) -> None:
    pairs = load_ntrex_pairs(ntrex, ["en", "de", "zh"])
    assert pairs.counts() == {
        "de-en": 4,
        "de-zh": 4,
        "en-de": 4,
        "en-zh": 5,
        "zh-de": 4,
        "zh-en": 5,
    }
    assert TrainingPair("Vier.", "四。", "de", "zh", "ntrex:4") in pairs.pairs
    assert {p.group for p in pairs if p.query == "Three."} == {"ntrex:3"}
    assert not [p for p in pairs if "Six." in (p.query, p.passage)]
    # the data root that holds ntrex-128/ works too
    assert (
        load_ntrex_pairs(ntrex.parent, ["en", "zh"]).pairs
        == load_ntrex_pairs(ntrex, ["en", "zh"]).pairs
    )


def test_ntrex_documents(ntrex: Path) -> None:
    pairs = load_ntrex_pairs(ntrex, ["en", "de"], language_pairs="all", passages="document")
    p = next(p for p in pairs if p.query == "Three." and p.passage_lang == "de")
    assert p == TrainingPair("Three.", "Vier. Fünf.", "en", "de", "ntrex:doc.b")
    assert pairs.counts()["en-en"] == 5


def test_ntrex_errors(ntrex: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown language"):
        load_ntrex_pairs(ntrex, ["en", "xx"])
    assert len(load_ntrex_pairs(ntrex, ["en", "xx"], codes={"xx": "deu"})) == 8
    with pytest.raises(ConfigError, match="itself"):
        load_ntrex_pairs(ntrex, ["en", "de"], language_pairs="all")
    with pytest.raises(ConfigError, match="passages='page'"):
        load_ntrex_pairs(ntrex, ["en", "de"], passages="page")
    with pytest.raises(DataError, match=r"newstest2019-ref\.rus\.txt\.gz: file not found"):
        load_ntrex_pairs(ntrex, ["en", "ru"])
    short = write_ntrex(tmp_path / "short", {"src.eng": ["a", "b"], "deu": ["a"]}, ["d", "d"])
    with pytest.raises(DataError, match="1 lines, expected 2"):
        load_ntrex_pairs(short, ["en", "de"])
    with pytest.raises(DataError, match="NTREX-128 folder not found"):
        load_ntrex_pairs(tmp_path / "nowhere", ["en", "de"])


@pytest.mark.integration
def test_mlqa_r_pairs(shared_data: Path) -> None:
    data = load_lareqa(shared_data / "lareqa" / "mlqa-r")
    questions = {"ar": 517, "de": 512, "en": 1148, "es": 500, "hi": 507, "vi": 511, "zh": 504}
    pairs = build_pairs(data)
    counts = pairs.counts()
    for lang, n in questions.items():
        assert counts[f"{lang}-{lang}"] == n
        if lang != "en":  # every non-English id is also in en
            assert counts[f"{lang}-en"] == counts[f"en-{lang}"] == n
    # 65 ids in 2 languages, 263 in 3, 820 in 4: k*(k-1) ordered cross pairs each
    assert pairs.summary()["cross"] == 65 * 2 + 263 * 6 + 820 * 12
    assert pairs.summary()["groups"] == 1148

    excluded = ["Prime number", "Harvard University"]
    split = split_by_article(data, dev_fraction=0.1, seed=42, exclude_titles=excluded)
    assert len(split.train_articles) + len(split.dev_articles) == 518  # 520 en articles - 2
    assert len(split.dev_articles) == 52
    assert not split.train_ids & split.dev_ids
    assert len(split.train_ids | split.dev_ids | split.excluded_ids) == 1148
    train = build_pairs(data, ids=split.train_ids, exclude_titles=excluded)
    dev = build_pairs(data, ids=split.dev_ids)
    assert len(train) + len(dev) < len(pairs)
    assert not {p.group for p in train} & {p.group for p in dev}

    from polyret.samplers import BatchPlanner, SamplerConfig

    planner = BatchPlanner(train.metadata(), SamplerConfig(world_size=1), 32, seed=1)
    plan = planner.plan(0)
    assert len(plan) == len(planner) > 100
    assert {b.kind for b in plan} == {"mono", "cross"}


@pytest.mark.integration
def test_ntrex_128_pairs(shared_data: Path) -> None:
    pairs = load_ntrex_pairs(shared_data / "ntrex-128", ["en", "de", "zh"])
    # the calibration part only: 945 of the 1,997 lines (polyret.data.ntrex)
    assert pairs.counts()["en-de"] == 945 and len(pairs) == 6 * 945
    assert {p.group for p in pairs} <= {f"ntrex:{i}" for i in range(1, 1998)}
    first = next(p for p in pairs if p.query_lang == "en" and p.passage_lang == "de")
    assert first.group == "ntrex:58" and first.passage.startswith("Sainsbury's plant Vorstoß")
    docs = load_ntrex_pairs(shared_data / "ntrex-128", ["en", "de"], passages="document")
    assert len({p.group for p in docs}) == 61


# --- hard negatives -------------------------------------------------------------------------


@pytest.fixture
def parallel(tmp_path: Path) -> LareqaDataset:
    from lareqa_fixture import write_parallel_lareqa

    return load_lareqa(write_parallel_lareqa(tmp_path / "qa", ("en", "de", "ru"), articles=4))


def step_rows(planner, pairs: PairSet, epoch: int) -> list[list[TrainingPair]]:
    """The pairs of each optimizer step of ``epoch`` (all its data-parallel batches together)."""
    steps: dict[int, list[int]] = {}
    for info in planner.plan(epoch):
        steps.setdefault(info.step, []).extend(info.indices)
    return [[pairs.pairs[i] for i in indices] for indices in steps.values()]


@pytest.mark.parametrize("source", ["paragraph", "article"])
def test_hard_negatives_are_same_language_non_answers(parallel: LareqaDataset, source: str) -> None:
    pairs = build_pairs(parallel)
    with_negatives, dropped = add_hard_negatives(pairs, parallel, 2, source, seed=3)
    assert dropped == 0 and len(with_negatives) == len(pairs)
    answers = {}  # qid -> its answer sentence in every language
    for data in parallel.languages.values():
        for q in data.questions:
            answers.setdefault(q.id, set()).add(data.candidates[q.answer].text)
    for pair in with_negatives:
        assert len(pair.negatives) == 2 == len(set(pair.negatives))
        data = parallel.languages[pair.query_lang]
        question = data.question(pair.group)
        home = {
            c.text: c
            for c in data.candidates
            if c.article == question.article
            and (source == "article" or c.paragraph == question.paragraph)
        }
        for negative in pair.negatives:
            assert negative in home, "a negative in the query's language, from where it was asked"
            assert negative not in answers[pair.group] and negative != pair.passage
    # The paragraph has 3 sentences, 2 of them answers: one negative from the paragraph, one
    # topped up from the article.
    by_para = add_hard_negatives(pairs, parallel, 1, "paragraph", seed=3)[0]
    for pair in by_para:
        question = parallel.languages[pair.query_lang].question(pair.group)
        para = parallel.languages[pair.query_lang].candidates
        same = {
            c.text
            for c in para
            if (c.article, c.paragraph) == (question.article, question.paragraph)
        }
        assert pair.negatives[0] in same


def test_hard_negatives_become_columns_and_links(parallel: LareqaDataset) -> None:
    pairs, _ = add_hard_negatives(build_pairs(parallel), parallel, 1, seed=0)
    assert pairs.columns == ["query", "passage", "negative_1"]
    dataset = pairs.to_dataset()
    assert dataset.column_names == ["query", "passage", "negative_1"]
    assert dataset[0]["negative_1"] == pairs.pairs[0].negatives[0]
    links = pairs.links()
    positive_row = {(p.passage, p.query_lang): i for i, p in enumerate(pairs.pairs)}
    linked = 0
    for i, pair in enumerate(pairs.pairs):
        j = positive_row.get((pair.negatives[0], pair.query_lang))
        if j is not None:  # the negative answers another question: never in one batch
            assert links[i] == links[j]
            linked += 1
    assert linked > 0  # the fixture's paragraphs hold a second answer: the check ran


def test_hard_negatives_never_meet_their_positive_in_a_batch(parallel: LareqaDataset) -> None:
    from polyret.samplers import BatchPlanner, SamplerConfig

    pairs, _ = add_hard_negatives(build_pairs(parallel), parallel, 2, seed=1)
    for strategy in ("mono", "cross", "mixed"):
        # Two data-parallel processes: the step (both batches) gathers its passages.
        planner = BatchPlanner(pairs.metadata(), SamplerConfig(strategy, world_size=2), 2)
        for epoch in (0, 1):
            for rows in step_rows(planner, pairs, epoch):
                positives = {p.passage for p in rows}
                for p in rows:
                    assert not positives & set(p.negatives), "a negative is a positive here"


@pytest.mark.parametrize("count", [1, 2])
def test_context_negatives_carry_their_own_paragraph(parallel: LareqaDataset, count: int) -> None:
    pairs = build_pairs(parallel, context=True)
    with_negatives, dropped = add_hard_negatives(pairs, parallel, count, "paragraph", seed=2)
    assert dropped == 0 and len(with_negatives) == len(pairs)
    answers: dict[str, set[str]] = {}  # qid -> its answer sentence in every language
    for d in parallel.languages.values():
        for q in d.questions:
            answers.setdefault(q.id, set()).add(d.candidates[q.answer].text)
    for pair in with_negatives:
        data = parallel.languages[pair.query_lang]
        question = data.question(pair.group)
        # Every candidate of the article as LAReQA's sentence+context scores it, by its text.
        candidates = {
            passage_text(c.text, c.context): c for c in data.candidates
            if c.article == question.article
        }  # fmt: skip
        places = [candidates[n] for n in pair.negatives]  # KeyError: not a context candidate
        assert not {c.text for c in places} & answers[pair.group], "a negative answers it"
        # The fixture's paragraphs hold one non-answer sentence: the first negative is the
        # answer's paragraph's, the second is topped up from the article.
        assert places[0].paragraph == question.paragraph
        assert places[0].text not in set().union(*answers.values())
        if count == 2:
            assert places[1].paragraph != question.paragraph
        assert pair.negative_keys == tuple(
            dict.fromkeys(f"{pair.query_lang}:{c.article}:{c.paragraph}" for c in places)
        )
    # Context negatives are part of what the run trains on.
    plain = PairSet([p._replace(negative_keys=()) for p in with_negatives])
    assert plain.fingerprint() != with_negatives.fingerprint()


def test_context_negatives_of_a_repeated_sentence(tmp_path: Path) -> None:
    # "Shared." stands in both paragraphs: an answer (qb) in paragraph 0, a non-answer in 1;
    # "Twice." is a non-answer in both.
    p0 = ["Alpha.", "Shared.", "Twice.", "Zeta."]
    p1 = ["Beta.", "Twice.", "Shared.", "Eta."]
    write_lareqa(tmp_path, "en", [("A", [(p0, [("qa", 0), ("qb", 1)]), (p1, [("qc", 0)])])])
    data = load_lareqa(tmp_path)
    pairs, _ = add_hard_negatives(build_pairs(data, context=True), data, 3, "paragraph", seed=0)
    negatives = {pair.group: pair.negatives for pair in pairs}
    context = {0: " ".join(p0), 1: " ".join(p1)}
    # qc's paragraph offers "Twice." and "Eta." (its "Shared." answers qb), topped up with
    # paragraph 0's "Zeta."; "Twice." carries paragraph 1, where qc was asked, though it stands
    # first in paragraph 0.
    assert set(negatives["qc"]) == {
        f"Twice. {context[1]}",
        f"Eta. {context[1]}",
        f"Zeta. {context[0]}",
    }
    assert set(negatives["qa"]) == {
        f"Twice. {context[0]}",
        f"Zeta. {context[0]}",
        f"Eta. {context[1]}",
    }
    assert not any(n.startswith("Shared.") for ns in negatives.values() for n in ns)


def test_context_negatives_never_meet_a_passage_of_their_paragraph(
    parallel: LareqaDataset,
) -> None:
    from polyret.samplers import BatchPlanner, SamplerConfig

    # The rule on its own: a row whose negative comes from a paragraph is linked to the rows
    # whose passage carries that paragraph, though no text or group is shared.
    a = TrainingPair(
        "qa", "pa", "en", "de", "ga", "de:0:0", ("n en:0:1",), negative_keys=("en:0:1",)
    )
    b = TrainingPair("qb", "pb", "de", "en", "gb", "en:0:1")
    assert len(set(PairSet([a, b]).links())) == 1
    assert len(set(PairSet([a._replace(negative_keys=()), b]).links())) == 2

    pairs, _ = add_hard_negatives(build_pairs(parallel, context=True), parallel, 2, seed=1)
    links = pairs.links()
    by_key: dict[str, set[int]] = {}
    for i, p in enumerate(pairs.pairs):
        by_key.setdefault(p.passage_key, set()).add(int(links[i]))
    for i, p in enumerate(pairs.pairs):
        for key in p.negative_keys:
            assert by_key.get(key, set()) <= {int(links[i])}
    planner = BatchPlanner(pairs.metadata(), SamplerConfig("hybrid", world_size=2), 2)
    for epoch in (0, 1):
        for rows in step_rows(planner, pairs, epoch):
            keys = {p.passage_key for p in rows}
            passages = {p.passage for p in rows}
            assert len(keys) == len(rows)
            for p in rows:
                assert not (set(p.negative_keys) - {p.passage_key}) & keys
                assert not passages & set(p.negatives)


def test_hard_negative_errors(parallel: LareqaDataset) -> None:
    mixed = PairSet(build_pairs(parallel, context=True).pairs + build_pairs(parallel).pairs)
    with pytest.raises(ConfigError, match="some pairs carry context passages"):
        add_hard_negatives(mixed, parallel, 1)
    with pytest.raises(ConfigError, match="no pair has 40 hard negative"):
        add_hard_negatives(build_pairs(parallel), parallel, 40, "paragraph")
    with pytest.raises(DataError, match="different numbers of hard negatives"):
        PairSet(
            [
                TrainingPair("q", "p", "en", "en", "g", negatives=("n",)),
                TrainingPair("q2", "p2", "en", "en", "g2"),
            ]
        ).to_dataset()


# --- parallel-question alignment rows ---------------------------------------------------------


def test_alignment_rows_are_one_question_in_two_languages(parallel: LareqaDataset) -> None:
    rows, dropped = build_alignment_pairs(parallel)
    assert dropped == 0
    langs = parallel.langs
    assert len(rows) == len(parallel.question_ids) * len(langs) * (len(langs) - 1)
    for row in rows:
        assert row.kind == "align" and row.query_lang != row.passage_lang
        assert row.query == parallel.languages[row.query_lang].question(row.group).text
        assert row.passage == parallel.languages[row.passage_lang].question(row.group).text
    summary = rows.summary()
    assert summary["alignment"] == len(rows) and summary["mono"] == summary["cross"] == 0
    assert set(rows.counts()) == {f"align:{x}-{y}" for x in langs for y in langs if x != y}
    # Only the ids asked for; the QA pairs' fingerprint is unchanged by the new fields.
    some = build_alignment_pairs(parallel, ids=["q0-0-0", "q1-0-1"])[0]
    assert {r.group for r in some} == {"q0-0-0", "q1-0-1"}
    qa = build_pairs(parallel)
    assert (qa + some).fingerprint() != (
        qa + PairSet([r._replace(kind="qa") for r in some])
    ).fingerprint()


def test_alignment_negatives_are_other_questions_of_the_article(parallel: LareqaDataset) -> None:
    rows, dropped = build_alignment_pairs(parallel, negatives=2, seed=5)
    assert dropped == 0  # 4 questions per article: 3 mates for 2 negatives
    for row in rows:
        data = parallel.languages[row.passage_lang]  # the positive's language
        article = data.question(row.group).article
        assert len(row.negatives) == 2 == len(set(row.negative_groups))
        for text, group in zip(row.negatives, row.negative_groups, strict=True):
            mate = data.question(group)
            assert mate.text == text and mate.article == article and group != row.group
    assert rows.columns == ["query", "passage", "negative_1", "negative_2"]
    with pytest.raises(ConfigError, match="no alignment pairs"):
        build_alignment_pairs(parallel, negatives=4)


def test_alignment_rows_link_only_among_themselves(parallel: LareqaDataset) -> None:
    qa, _ = add_hard_negatives(build_pairs(parallel), parallel, 1, seed=0)
    rows, _ = build_alignment_pairs(parallel, negatives=1, seed=0)
    links = (qa + rows).links()
    n = len(qa)
    assert (links[:n] == qa.links()).all(), "alignment rows change no QA batch"
    assert not set(links[:n]) & set(links[n:])
    # A row is linked to the rows of its negative's question: no batch holds a translation of
    # a row's negative as another row's question or positive.
    by_group = {}
    for i, row in enumerate(rows.pairs):
        by_group.setdefault(row.group, set()).add(links[n + i])
    for i, row in enumerate(rows.pairs):
        assert by_group[row.negative_groups[0]] == {links[n + i]}


def test_alignment_steps_never_hold_a_row_and_its_negative_question(
    parallel: LareqaDataset,
) -> None:
    from polyret.samplers import BatchPlanner, SamplerConfig

    qa, _ = add_hard_negatives(build_pairs(parallel), parallel, 1, seed=1)
    pairs = qa + build_alignment_pairs(parallel, negatives=1, seed=1)[0]
    config = SamplerConfig("hybrid", 0.5, align_share=0.25, world_size=2)
    planner = BatchPlanner(pairs.metadata(), config, 2)
    assert planner.counts.align_steps > 0
    for epoch in (0, 1):
        for rows in step_rows(planner, pairs, epoch):
            groups = {p.group for p in rows}
            assert len({p.kind for p in rows}) == 1
            for p in rows:
                assert not groups & set(p.negative_groups), "a negative's question is in the step"


def test_alignment_errors(parallel: LareqaDataset) -> None:
    with pytest.raises(ConfigError, match="two or more languages"):
        build_alignment_pairs(parallel, languages=["en"])
    rows, _ = build_alignment_pairs(parallel)
    with pytest.raises(ConfigError, match="alignment rows draw their own negatives"):
        add_hard_negatives(build_pairs(parallel) + rows, parallel, 1)
