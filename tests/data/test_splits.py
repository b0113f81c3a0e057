"""Article-level train/dev splits: linked across languages, deterministic, never leaking."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lareqa_fixture import write_mlqa_like
from polyret.data.lareqa import LareqaDataset, LareqaLanguage, Question, load_lareqa
from polyret.data.splits import split_by_article
from polyret.errors import ConfigError


@pytest.fixture
def tiny(tmp_path: Path) -> LareqaDataset:
    return load_lareqa(write_mlqa_like(tmp_path / "tiny"))


def test_split_links_articles_across_languages(tiny: LareqaDataset) -> None:
    ids = {"q1", "q2", "q3", "q4", "q5", "q6"}
    seen = set()
    for seed in range(12):
        split = split_by_article(tiny, dev_count=1, seed=seed)
        assert split.train_ids | split.dev_ids == ids and not split.train_ids & split.dev_ids
        # en Alpha and en Beta are joined by de "Alpha DE" (q3, q5): one unit.
        assert len({"q3", "q4", "q5"} & split.dev_ids) in (0, 3)
        assert len(split.dev_articles) == 1 and split.dev_articles[0] in {
            "Prime_number",
            "Alpha",
            "Gamma",
        }
        seen.add(split.dev_ids)
        assert split == split_by_article(tiny, dev_count=1, seed=seed), "deterministic"
    assert seen == {frozenset({"q1", "q2"}), frozenset({"q3", "q4", "q5"}), frozenset({"q6"})}
    split = split_by_article(tiny, dev_fraction=0.5, seed=0, exclude_titles=["Prime number"])
    assert split.excluded_ids == {"q1", "q2"}
    assert len(split.dev_articles) == 1 and len(split.train_articles) == 1  # round(0.5 * 2)
    assert split.train_ids | split.dev_ids == {"q3", "q4", "q5", "q6"}


def test_split_errors(tiny: LareqaDataset) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        split_by_article(tiny)
    with pytest.raises(ConfigError, match="exactly one"):
        split_by_article(tiny, dev_fraction=0.1, dev_count=1)
    with pytest.raises(ConfigError, match=r"dev_fraction=1\.0"):
        split_by_article(tiny, dev_fraction=1.0)
    with pytest.raises(ConfigError, match="leaves no training articles"):
        split_by_article(tiny, dev_count=3)
    with pytest.raises(ConfigError, match="dev_count=-1"):
        split_by_article(tiny, dev_count=-1)
    assert split_by_article(tiny, dev_fraction=0.0).dev_ids == frozenset()
    assert len(split_by_article(tiny, dev_fraction=0.01).dev_articles) == 1


@st.composite
def random_datasets(draw: st.DrawFn) -> LareqaDataset:
    """Questions placed in random articles per language (only what the split reads)."""
    langs = ["de", "en", "zh"][: draw(st.integers(1, 3))]
    n_ids = draw(st.integers(1, 25))
    languages = {}
    for lang in langs:
        questions = []
        for i in range(n_ids):
            if draw(st.booleans()):
                article = draw(st.integers(0, 5))
                questions.append(Question(f"q{i}", lang, "?", 0, article, 0, f"{lang} t{article}"))
        languages[lang] = LareqaLanguage(lang, Path(f"{lang}.json"), "", questions, [])
    return LareqaDataset("random", Path("."), languages)


@settings(max_examples=60, deadline=None)
@given(
    data=random_datasets(), fraction=st.sampled_from([0.0, 0.2, 0.5, 0.9]), seed=st.integers(0, 99)
)
def test_split_never_shares_ids_or_articles(
    data: LareqaDataset, fraction: float, seed: int
) -> None:
    try:
        split = split_by_article(data, dev_fraction=fraction, seed=seed)
    except ConfigError as exc:
        assert "no training articles" in str(exc) or "no questions" in str(exc)
        return
    assert split.train_ids | split.dev_ids == set(data.question_ids)
    assert not split.train_ids & split.dev_ids
    side = {}
    for lang, language in data.languages.items():
        for q in language.questions:
            node = (lang, q.article)
            s = q.id in split.dev_ids
            assert side.setdefault(node, s) == s, f"article {node} is on both sides"
