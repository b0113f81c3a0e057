"""Mono / cross / hybrid batch samplers: properties, statistics, errors, a real trainer run."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyret.errors import ConfigError
from polyret.pairs import PairMetadata, PairSet, TrainingPair
from polyret.samplers import (
    BatchInfo,
    BatchPlanner,
    BatchStrategy,
    HybridBatchSampler,
    PairWeighting,
    SamplerConfig,
    conflicting_batches,
    make_batch_sampler,
    write_batch_log,
)
from polyret.samplers.planner import KINDS, _apportion


def parallel_pairs(
    presence: dict[str, Sequence[str]],
    *,
    copies: int = 1,
    answer_of: dict[str, str] | None = None,
) -> PairSet:
    """Every ordered (Lq, Lp) pair for every group held by both, like ``build_pairs``.

    ``answer_of`` maps a group to its answer: groups with one answer share their passages.
    """
    pairs = []
    for group, langs in presence.items():
        answer = (answer_of or {}).get(group, group)
        for lq in langs:
            for lp in langs:
                for c in range(copies):
                    pairs.append(
                        TrainingPair(f"q {group} {lq} {c}", f"p {answer} {lp} {c}", lq, lp, group)
                    )
    return PairSet(pairs)


def balanced(langs: Sequence[str], n_groups: int, **kw) -> PairSet:
    return parallel_pairs({f"g{i}": langs for i in range(n_groups)}, **kw)


def planner(pairs: PairSet, batch_size: int, **config) -> BatchPlanner:
    config.setdefault("world_size", 1)
    return BatchPlanner(pairs.metadata(), SamplerConfig(**config), batch_size, seed=0)


def check_plan(meta: PairMetadata, plan: list[BatchInfo], p: BatchPlanner) -> None:
    """The invariants every plan must satisfy."""
    b, w = p.batch_size, p.world_size
    assert len(plan) == len(p) == p.counts.batches == p.counts.steps * w
    c = p.counts
    assert c.used + c.excluded + c.dropped + c.unused == c.rows == len(meta)
    seen: set[int] = set()
    steps: dict[int, list[BatchInfo]] = defaultdict(list)
    for k, info in enumerate(plan):
        assert info.index == k and info.step == k // w and info.rank == k % w
        assert info.size == b == len(info.indices)
        assert not seen & set(info.indices), "a pair is used twice in one epoch"
        seen.update(info.indices)
        align = meta.is_align[list(info.indices)]
        assert align.all() if info.kind == "align" else not align.any(), "QA and alignment rows"
        if info.kind in ("mixed", "align"):
            assert (info.query_lang, info.passage_lang) == ("*", "*")
        else:
            for i in info.indices:
                q, pl, _ = meta.row(i)
                assert (q, pl) == (info.query_lang, info.passage_lang), "impure batch"
            assert info.kind == ("mono" if info.query_lang == info.passage_lang else "cross")
        steps[info.step].append(info)
    assert len(seen) == c.used
    for batches in steps.values():
        assert len(batches) == w
        assert len({(x.kind, x.query_lang, x.passage_lang) for x in batches}) == 1
        groups = [meta.group[i] for x in batches for i in x.indices]
        assert len(groups) == len(set(groups)), "a group occurs twice in one step"
        linked = [meta.exclusive[i] for x in batches for i in x.indices]
        assert len(linked) == len(set(linked)), "linked groups (a shared text) in one step"
    assert sum(x.kind == "mono" for x in plan) == c.mono_steps * w
    assert sum(x.kind == "mixed" for x in plan) == c.mixed_steps * w
    assert sum(x.kind == "align" for x in plan) == c.align_steps * w
    assert c.mono_steps + c.cross_steps + c.mixed_steps + c.align_steps == c.steps
    strategy = p.config.strategy
    if strategy is BatchStrategy.MONO:
        assert c.cross_steps == c.mixed_steps == 0
    if strategy is BatchStrategy.CROSS:
        assert c.mono_steps == c.mixed_steps == 0
    if strategy is BatchStrategy.MIXED:
        assert c.mono_steps == c.cross_steps == 0
    if p.config.uses_align or (strategy is BatchStrategy.HYBRID and p.config.mixed_share > 0):
        exact = [share * c.steps for share in p.config.step_shares]
        got = (c.mono_steps, c.cross_steps, c.mixed_steps, c.align_steps)
        assert all(abs(n - x) < 1 for n, x in zip(got, exact, strict=True)), (got, exact)
    elif strategy is BatchStrategy.HYBRID:
        alpha = p.config.alpha
        assert c.mono_steps == int(np.floor(alpha * c.steps + 0.5))
        # T is the longest epoch both pools allow.
        pool = Counter()
        for cell in p.cells:
            pool[cell["kind"]] += cell["steps"]
        longer = c.steps + 1
        n_mono = int(np.floor(alpha * longer + 0.5))
        assert n_mono > pool["mono"] or longer - n_mono > pool["cross"]


def with_alignment(pairs: PairSet) -> PairSet:
    """``pairs`` plus one alignment row per group and ordered language pair (as
    ``build_alignment_pairs`` makes them from the questions)."""
    questions = {(p.group, p.query_lang): p.query for p in pairs}
    rows = [
        TrainingPair(questions[g, x], questions[g, y], x, y, g, kind="align")
        for (g, x) in questions
        for (h, y) in questions
        if g == h and x != y
    ]
    return pairs + PairSet(rows)


@st.composite
def corpora(draw: st.DrawFn) -> PairSet:
    langs = ["en", "de", "zh", "ar"][: draw(st.integers(1, 4))]
    n_groups = draw(st.integers(1, 30))
    presence = {}
    for g in range(n_groups):
        held = [lang for lang in langs if draw(st.booleans())] or [langs[g % len(langs)]]
        presence[f"g{g}"] = held
    # Some groups share their answer with another one (XQuAD-R: about half of the questions).
    answer_of = {f"g{g}": f"g{draw(st.integers(0, g))}" for g in range(n_groups)}
    pairs = parallel_pairs(
        presence, copies=draw(st.sampled_from([1, 1, 2, 3])), answer_of=answer_of
    )
    if draw(st.booleans()):
        pairs = with_alignment(pairs)
    order = draw(st.permutations(range(len(pairs))))
    return PairSet([pairs.pairs[i] for i in order])


configs = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(list(BatchStrategy)),
        "alpha": st.sampled_from([0.0, 0.2, 0.5, 0.75, 1.0]),
        "mixed_share": st.sampled_from([0.0, 0.0, 0.25, 0.5]),
        "align_share": st.sampled_from([0.0, 0.0, 0.2]),
        "pair_weighting": st.sampled_from(list(PairWeighting)),
        "world_size": st.integers(1, 3),
        "seed": st.integers(0, 2**20),
    }
)


def p_stub(meta: PairMetadata, cfg: SamplerConfig) -> BatchPlanner:
    """A planner shell with what ``_mixed_partition`` reads (the real one failed to build)."""
    stub = BatchPlanner.__new__(BatchPlanner)
    stub.metadata, stub.config, stub.seed = meta, cfg, cfg.seed or 0
    return stub


def mixed_side(meta: PairMetadata, cfg: SamplerConfig) -> np.ndarray:
    """Per row: whether a three-way mixture reserves it for the mixed steps."""
    if not (cfg.uses_mixed and (cfg.uses_mono or cfg.uses_cross)):
        return np.zeros(len(meta), bool)
    return BatchPlanner._mixed_partition(p_stub(meta, cfg), ~meta.is_align)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=corpora(), config=configs, batch_size=st.integers(1, 5), epoch=st.integers(0, 3))
def test_plan_invariants(pairs: PairSet, config: dict, batch_size: int, epoch: int) -> None:
    meta = pairs.metadata()
    if config["strategy"] is not BatchStrategy.HYBRID:
        config = {**config, "mixed_share": 0.0}
    config["alpha"] = min(config["alpha"], 1.0 - config["mixed_share"])
    cfg = SamplerConfig(**config)
    try:
        p = BatchPlanner(meta, cfg, batch_size)
    except ConfigError as exc:
        # Only legitimate refusals: a used cell or the mixed pool cannot fill one group-unique
        # step, or no pairs.
        step = batch_size * cfg.world_size
        if "needs alignment rows" in str(exc):
            assert cfg.uses_align and not meta.is_align.any()
            return
        if "align" in str(exc):
            assert cfg.uses_align and "too few distinct groups" in str(exc), str(exc)
            return
        if "mixed" in str(exc):
            assert cfg.uses_mixed and "too few distinct groups" in str(exc), str(exc)
            return
        cells = defaultdict(set)
        side = mixed_side(meta, cfg)
        for i in range(len(meta)):
            q, pl, _ = meta.row(i)
            if side[i] or meta.is_align[i]:
                continue
            if (q == pl and cfg.uses_mono) or (q != pl and cfg.uses_cross):
                cells[q, pl].add(int(meta.exclusive[i]))
        kinds = {q == pl for q, pl in cells}
        missing = (cfg.uses_mono and True not in kinds) or (cfg.uses_cross and False not in kinds)
        assert missing or any(len(g) < step for g in cells.values()), str(exc)
        return
    plan = p.plan(epoch)
    check_plan(meta, plan, p)
    # Deterministic for (seed, epoch), also from a fresh planner.
    assert BatchPlanner(meta, cfg, batch_size).plan(epoch) == plan
    # A cell yields as many steps as its group sizes allow: one more would need a group twice.
    s = p.step_size
    side = mixed_side(meta, cfg)
    qa = ~meta.is_align
    for cell in p.cells:
        if cell["kind"] == "align":
            rows = np.flatnonzero(meta.is_align).tolist()
        elif cell["kind"] == "mixed":
            rows = [i for i in range(len(meta)) if qa[i] and (side[i] or not side.any())]
        else:
            rows = [
                i
                for i in range(len(meta))
                if meta.row(i)[:2] == (cell["query_lang"], cell["passage_lang"])
                and not side[i]
                and qa[i]
            ]
        sizes = np.array(list(Counter(meta.exclusive[i] for i in rows).values()))
        t = cell["steps"]
        assert np.minimum(sizes, t).sum() >= t * s
        assert np.minimum(sizes, t + 1).sum() < (t + 1) * s
        if cfg.strategy in (BatchStrategy.MONO, BatchStrategy.CROSS) and not cfg.uses_align:
            used = sum(
                x.query_lang == cell["query_lang"] and x.passage_lang == cell["passage_lang"]
                for x in plan
            )
            assert used == t * p.world_size


def test_unique_groups_drop_only_the_remainder() -> None:
    pairs = parallel_pairs({f"g{i}": ["en", "de"] if i < 10 else ["en"] for i in range(23)})
    p = planner(pairs, 4, strategy="mono")
    # en-en: 23 pairs -> 5 batches, 3 dropped; de-de: 10 -> 2 batches, 2 dropped; 40 cross excluded
    assert [(c["query_lang"], c["steps"]) for c in p.cells] == [("de", 2), ("en", 5)]
    assert (p.counts.dropped, p.counts.excluded, p.counts.used) == (5, 20, 28)
    check_plan(pairs.metadata(), p.plan(0), p)


def test_epochs_differ_and_repeat() -> None:
    pairs = balanced(["en", "de", "zh"], 40)
    meta = pairs.metadata()
    sampler = HybridBatchSampler(
        pairs.to_dataset(), 4, False, seed=3, metadata=meta, config=SamplerConfig(world_size=1)
    )
    first = list(sampler)
    assert first == list(sampler), "same epoch, same batches"
    assert first == [list(b.indices) for b in sampler.plan(0)]
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    assert len(second) == len(first) == len(sampler)
    assert sorted(map(sorted, second)) != sorted(map(sorted, first)), "batches, not just order"
    again = HybridBatchSampler(
        pairs.to_dataset(), 4, False, seed=3, metadata=meta, config=SamplerConfig(world_size=1)
    )
    again.set_epoch(1)
    assert list(again) == second
    other_seed = HybridBatchSampler(
        pairs.to_dataset(), 4, False, seed=4, metadata=meta, config=SamplerConfig(world_size=1)
    )
    assert list(other_seed) != first
    # config.seed overrides the trainer's seed
    fixed = SamplerConfig(world_size=1, seed=3)
    assert (
        list(HybridBatchSampler(pairs.to_dataset(), 4, False, seed=99, metadata=meta, config=fixed))
        == first
    )


def test_mono_share_follows_alpha() -> None:
    pairs = balanced(["en", "de", "zh", "ar"], 200)
    alpha = 0.3
    p = planner(pairs, 4, alpha=alpha)
    kinds = []
    first_half_share = []
    for epoch in range(20):
        plan = p.plan(epoch)
        check_plan(pairs.metadata(), plan, p)
        flags = [b.kind == "mono" for b in plan]
        kinds.extend(flags)
        first_half_share.append(np.mean(flags[: len(flags) // 2]))
    assert abs(np.mean(kinds) - alpha) <= 1 / p.counts.steps
    # Mono steps sit at random positions: the first half of an epoch has the same share.
    n_half = p.counts.steps // 2 * 20
    sd = np.sqrt(alpha * (1 - alpha) / n_half)
    assert abs(np.mean(first_half_share) - alpha) < 4 * sd
    # ...and the positions change from epoch to epoch.
    assert len({tuple(b.kind for b in p.plan(e)) for e in range(5)}) == 5


def test_epoch_seeds_do_not_collide() -> None:
    pairs = balanced(["en", "de", "zh"], 40)
    meta = pairs.metadata()
    cfg = SamplerConfig(world_size=1)
    # With seed + epoch, seed 1 / epoch 1 was seed 2 / epoch 0.
    assert BatchPlanner(meta, cfg, 4, seed=1).plan(1) != BatchPlanner(meta, cfg, 4, seed=2).plan(0)


@pytest.mark.parametrize(("alpha", "max_steps"), [(0.5, 7), (0.3, 10), (0.75, 13), (0.5, 45)])
def test_mono_share_is_exact_over_the_steps_trained(alpha: float, max_steps: int) -> None:
    pairs = balanced(["en", "de", "zh", "ar"], 40)
    meta = pairs.metadata()
    p = BatchPlanner(meta, SamplerConfig(alpha=alpha, world_size=1, max_steps=max_steps), 4)
    steps = p.counts.steps  # 30 per epoch
    trained = []
    for epoch in range(max_steps // steps + 1):
        plan = p.plan(epoch)
        check_plan(meta, plan, p)
        trained += [b.kind == "mono" for b in plan]
    trained = trained[:max_steps]
    assert sum(trained) == int(np.floor(alpha * max_steps + 0.5))
    # Without max_steps only the whole epoch is exact, not the part trained.
    whole = BatchPlanner(meta, SamplerConfig(alpha=alpha, world_size=1), 4)
    shares = {sum(b.kind == "mono" for b in whole.plan(e)[:7]) for e in range(20)}
    assert len(shares) > 1


def test_shared_answers_never_meet_in_a_batch() -> None:
    # 40 questions, every two of them asking for one answer sentence.
    answer_of = {f"g{i}": f"a{i // 2}" for i in range(40)}
    pairs = parallel_pairs({f"g{i}": ["en", "de"] for i in range(40)}, answer_of=answer_of)
    p = planner(pairs, 8, strategy="hybrid")
    for epoch in range(5):
        assert conflicting_batches(p.plan(epoch), pairs)["passage"] == 0
    unlinked = dataclasses.replace(pairs.metadata(), link=None)
    q = BatchPlanner(unlinked, SamplerConfig(world_size=1), 8)
    assert sum(conflicting_batches(q.plan(e), pairs)["passage"] for e in range(5)) > 0


@pytest.mark.integration
@pytest.mark.parametrize("context", [False, True])
def test_no_duplicate_passage_in_real_batches(shared_data, context: bool) -> None:
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.pairs import add_hard_negatives, build_pairs

    for name in ("xquad-r", "mlqa-r"):
        data = load_lareqa(resolve_lareqa_folder(name, shared_data))
        pairs = build_pairs(data, context=context)
        meta = pairs.metadata()
        cfg = SamplerConfig(alpha=0.5, world_size=1)
        counts = conflicting_batches(BatchPlanner(meta, cfg, 32, seed=1).plan(0), pairs)
        assert counts["passage"] == counts["query"] == counts["negative"] == 0, (name, counts)
        if name == "xquad-r":  # grouping by question id alone let about 40% of batches repeat one
            by_id = BatchPlanner(dataclasses.replace(meta, link=None), cfg, 32, seed=1).plan(0)
            assert conflicting_batches(by_id, pairs)["passage"] > 200
            # With a same-language hard negative per pair (its paragraph too, with context).
            negs, _ = add_hard_negatives(pairs, data, 1, seed=1)
            planned = BatchPlanner(negs.metadata(), cfg, 32, seed=1).plan(0)
            assert conflicting_batches(planned, negs)["negative"] == 0
            unlinked = dataclasses.replace(negs.metadata(), link=None)
            by_id = BatchPlanner(unlinked, cfg, 32, seed=1).plan(0)
            assert conflicting_batches(by_id, negs)["negative"] > 0


def test_trainer_seed_reaches_the_sampler(tiny_model_dir, tmp_path) -> None:
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    pairs = balanced(["en", "de"], 24)
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")

    def plan(seed: int) -> list[BatchInfo]:
        factory = make_batch_sampler(SamplerConfig(world_size=1), pairs.metadata())
        args = SentenceTransformerTrainingArguments(
            output_dir=str(tmp_path / "out"),
            per_device_train_batch_size=4,
            batch_sampler=factory,
            seed=seed,
            report_to="none",
            use_cpu=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=pairs.to_dataset(),
            loss=MultipleNegativesRankingLoss(model),
        )
        trainer.get_train_dataloader()
        return factory.samplers[-1].plan(0)

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_hybrid_extremes_equal_pure_strategies(alpha: float) -> None:
    pairs = balanced(["en", "de"], 12)
    plan = planner(pairs, 3, alpha=alpha).plan(0)
    assert {b.kind for b in plan} == {"mono" if alpha == 1.0 else "cross"}


def test_weighting_uniform_versus_size() -> None:
    # en has 4x the groups of de: size draws en 4x as often, uniform equally while both last.
    pairs = parallel_pairs({f"g{i}": ["en", "de"] if i < 16 else ["en"] for i in range(64)})
    share = {}
    for weighting in ("uniform", "size"):
        p = planner(pairs, 2, strategy="mono", pair_weighting=weighting)
        assert p.counts.steps == 40 and p.counts.unused == 0, "both use every step"
        early = [b.query_lang for e in range(30) for b in p.plan(e)[:6]]
        share[weighting] = early.count("de") / len(early)
    assert share["uniform"] > 0.4
    assert share["size"] < 0.3


def test_uniform_spreads_hybrid_selection_over_cells() -> None:
    # Few mono steps are needed (alpha small): uniform takes them from every language.
    pairs = parallel_pairs({f"g{i}": ["en", "de", "zh"] if i < 20 else ["en"] for i in range(80)})
    p = planner(pairs, 4, alpha=0.1, pair_weighting="uniform")
    for epoch in range(3):
        langs = Counter(b.query_lang for b in p.plan(epoch) if b.kind == "mono")
        assert set(langs) == {"en", "de", "zh"}
        assert max(langs.values()) - min(langs.values()) <= 1


def test_data_parallel_shards_share_each_step() -> None:
    from accelerate.data_loader import BatchSamplerShard

    pairs = parallel_pairs(
        {f"g{i}": ["en", "de", "zh"] if i % 3 else ["en", "de"] for i in range(60)}
    )
    meta = pairs.metadata()
    for w in (2, 3):
        config = SamplerConfig(world_size=w, alpha=0.4)
        sampler = HybridBatchSampler(
            pairs.to_dataset(), 3, False, seed=1, metadata=meta, config=config
        )
        whole = list(sampler)
        assert len(whole) % w == 0 and len(whole) == len(sampler)
        shards = [
            list(BatchSamplerShard(sampler, num_processes=w, process_index=r, even_batches=False))
            for r in range(w)
        ]
        assert all(len(s) == len(whole) // w for s in shards)
        for step, batches in enumerate(zip(*shards, strict=True)):
            assert [whole[step * w + r] for r in range(w)] == list(batches)
            cells = {meta.row(i)[:2] for batch in batches for i in batch}
            assert len(cells) == 1, "one step, one language pair"
            groups = [meta.group[i] for batch in batches for i in batch]
            assert len(groups) == len(set(groups)), "cross-device negatives repeat a group"


def test_world_size_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = balanced(["en", "de"], 20)
    monkeypatch.setenv("WORLD_SIZE", "2")
    p = BatchPlanner(pairs.metadata(), SamplerConfig(), 2)
    assert p.world_size == 2 and len(p) % 2 == 0
    monkeypatch.delenv("WORLD_SIZE")
    assert BatchPlanner(pairs.metadata(), SamplerConfig(), 2).world_size == 1


def test_language_filter() -> None:
    pairs = balanced(["en", "de", "zh"], 10)
    p = planner(pairs, 2, languages=["en", "zh"])
    assert {b.query_lang for b in p.plan(0)} | {b.passage_lang for b in p.plan(0)} == {"en", "zh"}
    assert p.counts.excluded == 50  # every pair touching de: 5 of 9 cells x 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, "alpha=1.5"),
        ({"alpha": -0.1}, "alpha=-0.1"),
        ({"alpha": float("nan")}, "alpha=nan"),
        ({"alpha": "0.5"}, "alpha='0.5'"),
        ({"strategy": "bilingual"}, "strategy='bilingual'"),
        ({"pair_weighting": "zipf"}, "pair_weighting='zipf'"),
        ({"world_size": 0}, "world_size=0"),
        ({"seed": -1}, "seed=-1"),
        ({"languages": "en"}, "languages='en'"),
        ({"languages": []}, "languages=[]"),
        ({"languages": ["en", "en"]}, "twice"),
    ],
)
def test_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SamplerConfig(**kwargs)


def test_config_from_strings() -> None:
    c = SamplerConfig(strategy="cross", pair_weighting="size", alpha=1)
    assert c.strategy is BatchStrategy.CROSS and c.pair_weighting is PairWeighting.SIZE
    assert c.to_dict()["strategy"] == "cross" and json.dumps(c.to_dict())


def test_planner_errors() -> None:
    pairs = parallel_pairs({f"g{i}": ["en", "de"] if i < 3 else ["en"] for i in range(10)})
    meta = pairs.metadata()
    with pytest.raises(ConfigError, match=r"unknown language\(s\) \['fr'\]"):
        BatchPlanner(meta, SamplerConfig(languages=["en", "fr"], world_size=1), 2)
    with pytest.raises(ConfigError, match="language 'de' has 3 distinct groups"):
        BatchPlanner(meta, SamplerConfig(strategy="mono", world_size=1), 4)
    with pytest.raises(ConfigError, match=r"world_size 2 = 4"):
        BatchPlanner(meta, SamplerConfig(strategy="mono", world_size=2), 2)
    with pytest.raises(ConfigError, match="batch_size=0"):
        BatchPlanner(meta, SamplerConfig(world_size=1), 0)
    mono_only = balanced(["en"], 10)
    with pytest.raises(ConfigError, match="cross-lingual"):
        BatchPlanner(mono_only.metadata(), SamplerConfig(strategy="cross"), 2)
    with pytest.raises(ConfigError, match="cross-lingual"):
        BatchPlanner(mono_only.metadata(), SamplerConfig(alpha=0.5), 2)
    assert len(BatchPlanner(mono_only.metadata(), SamplerConfig(alpha=1.0), 2)) == 5


def test_sampler_checks_its_dataset() -> None:
    from datasets import Dataset

    pairs = balanced(["en", "de"], 6)
    meta = pairs.metadata()
    ds = pairs.to_dataset()
    with pytest.raises(ConfigError, match="describes 24 pairs"):
        HybridBatchSampler(ds.select(range(10)), 2, True, metadata=meta)
    leaked = ds.add_column("query_lang", [p.query_lang for p in pairs])
    with pytest.raises(ConfigError, match="metadata column"):
        HybridBatchSampler(leaked, 2, True, metadata=meta)
    shuffled = Dataset.from_dict(ds[::-1])
    with pytest.raises(ConfigError, match="does not belong"):
        HybridBatchSampler(shuffled, 2, True, metadata=meta)


def test_factory_is_picklable_and_selects_metadata() -> None:
    from datasets import Dataset

    train = balanced(["en", "de"], 8)
    dev = PairSet([p._replace(query=p.query + "?") for p in train])
    factory = make_batch_sampler(SamplerConfig(world_size=1), train.metadata(), dev.metadata())
    restored = pickle.loads(pickle.dumps(factory))
    for pairs in (dev, train):
        for f in (factory, restored):
            sampler = f(pairs.to_dataset(), batch_size=2, drop_last=False, seed=5)
            assert isinstance(sampler, HybridBatchSampler)
            assert sampler.planner.metadata.fingerprint == pairs.metadata().fingerprint
    assert len(factory.samplers) == 2
    assert pickle.loads(pickle.dumps(factory)).samplers == [], "built samplers are not pickled"
    with pytest.raises(ConfigError, match="no batch-sampler metadata"):
        factory(Dataset.from_dict({"query": ["a"], "passage": ["b"]}), 1, False)


def test_batch_log(tmp_path) -> None:
    pairs = balanced(["en", "de"], 8)
    p = planner(pairs, 2)
    write_batch_log(tmp_path / "batches.jsonl", p.plan(0), indices=True)
    records = [json.loads(line) for line in (tmp_path / "batches.jsonl").read_text().splitlines()]
    assert len(records) == len(p)
    assert records[0].keys() == {
        "epoch",
        "index",
        "step",
        "rank",
        "kind",
        "query_lang",
        "passage_lang",
        "size",
        "indices",
    }
    assert [r["indices"] for r in records] == [list(b.indices) for b in p.plan(0)]
    assert "indices" not in p.plan(0)[0].to_record()
    assert json.dumps(p.describe())


def test_plan_of_a_hundred_thousand_pairs() -> None:
    # 1,000 groups in 10 languages: 100,000 pairs (no timing assertion, but it runs in the suite).
    pairs = balanced([f"l{i}" for i in range(10)], 1000)
    p = planner(pairs, 32, world_size=2, pair_weighting="uniform", strategy="cross")
    plan = p.plan(0)
    assert len(plan) == 90 * (1000 // 64) * 2
    assert p.counts.used == 90 * 15 * 64


def test_trainer_trains_on_the_sampler_batches(tiny_model_dir, tmp_path) -> None:
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    # en-en and en-de, 3 pairs each: one mono and one cross step per epoch.
    pairs = PairSet([p for p in balanced(["en", "de"], 3) if p.query_lang == "en"])
    factory = make_batch_sampler(SamplerConfig(alpha=0.5, world_size=1), pairs.metadata())
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=3,
        num_train_epochs=2,
        batch_sampler=factory,
        seed=11,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        dataloader_drop_last=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=pairs.to_dataset(),
        loss=MultipleNegativesRankingLoss(model),
    )
    seen: list[list[str]] = []
    preprocess = trainer.data_collator.preprocess_fn

    def recording(texts, *a, **kw):
        seen.append(list(texts))
        return preprocess(texts, *a, **kw)

    trainer.data_collator.preprocess_fn = recording
    trainer.train()

    assert trainer.state.global_step == 4
    sampler = factory.samplers[0]
    assert sampler.epoch == 1, "set_epoch reached the sampler"
    assert sampler.iterated_epochs == [0, 1], "each epoch's own plan was iterated"
    expected = []
    for epoch in (0, 1):
        for info in sampler.plan(epoch):
            expected.append([pairs.pairs[i].query for i in info.indices])
            expected.append([pairs.pairs[i].passage for i in info.indices])
    assert seen == expected, "the tokenizer saw exactly the query and passage of each batch"
    assert sampler.plan(0) != sampler.plan(1)
    assert sorted(b.kind for b in sampler.plan(0)) == ["cross", "mono"]


# --- mixed-language batches -------------------------------------------------------------------


def test_mixed_batches_mix_languages_and_keep_every_guarantee() -> None:
    pairs = balanced(["en", "de", "zh", "ar"], 60)
    p = planner(pairs, 8, strategy="mixed", world_size=2)
    meta = pairs.metadata()
    for epoch in (0, 1):
        plan = p.plan(epoch)
        check_plan(meta, plan, p)
        assert {x.kind for x in plan} == {"mixed"}
        same_language = 0
        for step in range(p.counts.steps):
            rows = [i for x in plan if x.step == step for i in x.indices]
            query_langs = {meta.row(i)[0] for i in rows}
            passage_langs = {meta.row(i)[1] for i in rows}
            assert len(query_langs) > 1 and len(passage_langs) > 1, "a mixed step mixes"
            same_language += sum(meta.row(i)[0] == meta.row(i)[1] for i in rows)
        # Every pair draws its own languages: a quarter of the pool is same-language.
        used = p.counts.used
        assert 0.15 * used < same_language < 0.35 * used
    # Every pair of the pool is used once per epoch (60 groups x 16 pairs, 16-pair steps).
    assert p.counts.used == len(pairs) and p.counts.steps == 60


def test_three_way_shares_are_exact_over_max_steps() -> None:
    pairs = balanced(["en", "de", "zh"], 90)
    config = {"strategy": "hybrid", "alpha": 0.3, "mixed_share": 0.4}
    per_epoch = planner(pairs, 4, **config).counts.steps
    for max_steps in (7, per_epoch + 5, 2 * per_epoch + 3):
        p = planner(pairs, 4, **config, max_steps=max_steps)
        kinds = Counter()
        trained = 0
        for epoch in range(3):
            for info in p.plan(epoch):
                if trained < max_steps:
                    kinds[info.kind] += 1
                    trained += 1
        # Each kind's count is its share of max_steps, rounded by largest remainders.
        exact = {"mono": 0.3 * max_steps, "cross": 0.3 * max_steps, "mixed": 0.4 * max_steps}
        assert sum(kinds.values()) == max_steps
        assert all(abs(kinds[k] - x) < 1 for k, x in exact.items()), (kinds, exact)
        assert kinds == dict(zip(exact, _apportion(max_steps, (0.3, 0.3, 0.4)), strict=True))
        # No pair twice in one epoch, the three kinds included.
        for epoch in range(2):
            check_plan(pairs.metadata(), p.plan(epoch), p)


def test_mixed_share_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="exceeds 1"):
        SamplerConfig("hybrid", 0.7, mixed_share=0.5)
    with pytest.raises(ConfigError, match="applies to strategy hybrid only"):
        SamplerConfig("cross", mixed_share=0.5)
    with pytest.raises(ConfigError, match="must lie in"):
        SamplerConfig("hybrid", 0.5, mixed_share=-0.1)
    full = SamplerConfig("hybrid", 0.0, mixed_share=1.0)
    assert (full.uses_mono, full.uses_cross, full.uses_mixed) == (False, False, True)
    two_way = SamplerConfig("hybrid", 0.5)
    assert (two_way.cross_share, two_way.mixed_fraction) == (0.5, 0.0)


# --- parallel-question alignment steps --------------------------------------------------------


def test_align_share_is_exact_over_max_steps_and_keeps_every_guarantee() -> None:
    pairs = with_alignment(balanced(["en", "de", "zh"], 90))
    meta = pairs.metadata()
    for config in (
        {"strategy": "hybrid", "alpha": 0.5, "align_share": 0.2},
        {"strategy": "cross", "align_share": 0.3},
        {"strategy": "hybrid", "alpha": 0.3, "mixed_share": 0.3, "align_share": 0.25},
    ):
        shares = SamplerConfig(**config).step_shares
        per_epoch = planner(pairs, 4, **config).counts.steps
        for max_steps in (7, per_epoch + 5):
            p = planner(pairs, 4, **config, max_steps=max_steps)
            kinds: Counter[str] = Counter()
            for epoch in range(2):
                plan = p.plan(epoch)
                check_plan(meta, plan, p)
                for info in plan[: max(0, max_steps - epoch * per_epoch)]:
                    kinds[info.kind] += 1
            expected = dict(zip(KINDS, _apportion(max_steps, shares), strict=True))
            assert kinds == {k: n for k, n in expected.items() if n}, (config, max_steps)
            mixing = []
            for step in (x for x in p.plan(0) if x.kind == "align"):
                rows = [meta.row(i) for i in step.indices]
                assert all(q != lp for q, lp, _ in rows), "a question aligned with itself"
                mixing.append(len({q for q, _, _ in rows}) > 1)
            # Every row draws its own language pair: 4 rows in 3 languages mix 96% of the time.
            assert np.mean(mixing) > 0.8, "alignment steps mix languages"


def test_alignment_rows_change_nothing_without_align_share() -> None:
    plain = balanced(["en", "de", "zh"], 40)
    both = with_alignment(plain)
    for config in ({"strategy": "hybrid", "alpha": 0.5}, {"strategy": "mixed"}):
        a, b = planner(plain, 4, **config), planner(both, 4, **config)
        assert a.plan(0) == b.plan(0) and a.plan(1) == b.plan(1)
        assert b.counts.excluded == a.counts.excluded + len(both) - len(plain)


def test_align_share_errors() -> None:
    with pytest.raises(ConfigError, match="must be below 1"):
        SamplerConfig("hybrid", align_share=1.0)
    with pytest.raises(ConfigError, match="needs alignment rows"):
        planner(balanced(["en", "de"], 20), 4, strategy="hybrid", align_share=0.2)
    assert SamplerConfig("mono", align_share=0.25).step_shares == (0.75, 0.0, 0.0, 0.25)
    assert "align_share" not in SamplerConfig().to_dict()  # runs saved before it stay equal
