from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyret.errors import ConfigError
from polyret.translate.splitting import join_sentences, normalize_space, split_sentences


def test_split_gives_exact_stripped_spans() -> None:
    text = "  Dr. Smith arrived at 5 p.m. on Monday.\nHe left.  He left. "
    spans = split_sentences(text, "en")
    assert [text[s:e] for s, e in spans] == [
        "Dr. Smith arrived at 5 p.m. on Monday.",
        "He left.",
        "He left.",
    ]
    # A repeated sentence gets its own, later offset.
    assert spans[2][0] > spans[1][0]


def test_split_rejects_a_language_pysbd_lacks() -> None:
    with pytest.raises(ConfigError, match="sentence_breaks"):
        split_sentences("Bir cümle. İki cümle.", "tr")


def test_join_with_space_and_without() -> None:
    context, breaks = join_sentences(["Eins.", "Zwei."], "de")
    assert context == "Eins. Zwei." and breaks == [[0, 5], [6, 11]]
    context, breaks = join_sentences(["一。", "二。"], "zh")
    assert context == "一。二。" and breaks == [[0, 2], [2, 4]]
    # Thai separates sentences with a space (as XQuAD-R th.json does).
    assert join_sentences(["ก", "ข"], "th")[0] == "ก ข"
    assert join_sentences([], "en") == ("", [])


@given(
    st.lists(st.text(min_size=1).map(normalize_space).filter(bool), max_size=8),
    st.sampled_from(["en", "zh", "th"]),
)
def test_join_offsets_are_exact(sentences: list[str], lang: str) -> None:
    context, breaks = join_sentences(sentences, lang)
    assert [context[s:e] for s, e in breaks] == sentences
    assert all(b[1] <= c[0] for b, c in itertools.pairwise(breaks))


def test_normalize_space() -> None:
    assert normalize_space(" a\n\tb  c ") == "a b c"
