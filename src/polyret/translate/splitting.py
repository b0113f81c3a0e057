"""Sentence splitting (pysbd) and joining sentences back into a context with exact offsets."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from polyret.errors import ConfigError
from polyret.translate.codes import NO_SPACE_LANGS

__all__ = ["join_sentences", "normalize_space", "split_sentences"]


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return " ".join(text.split())


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> Any:
    try:
        import pysbd
        from pysbd.languages import LANGUAGE_CODES
    except ImportError as exc:
        raise ConfigError(
            "splitting paragraphs without sentence_breaks into sentences needs pysbd, which "
            "is not installed: pip install 'polyret[translate]'"
        ) from exc
    if lang not in LANGUAGE_CODES:
        raise ConfigError(
            f"pysbd cannot split {lang!r} text into sentences (it knows "
            f"{', '.join(sorted(LANGUAGE_CODES))}); give the paragraphs 'sentence_breaks'"
        )
    # clean=False keeps the text as it is, so every sentence can be found in the context.
    return pysbd.Segmenter(language=lang, clean=False)


def split_sentences(text: str, lang: str) -> list[tuple[int, int]]:
    """Sentence spans ``[(start, end), ...]`` of ``text`` (end exclusive, no outer whitespace)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in _segmenter(lang).segment(text):
        sentence = piece.strip()
        if not sentence:
            continue
        # pysbd's own char_span mode re-finds sentences with a regex and can return the
        # offset of an earlier repeat; a forward find from the previous end cannot.
        start = text.find(sentence, cursor)
        if start < 0:
            raise RuntimeError(f"pysbd returned text that is not in the paragraph: {sentence!r}")
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return spans


def join_sentences(sentences: list[str], lang: str) -> tuple[str, list[list[int]]]:
    """Join sentences into a context (one space between them, none for zh/ja) with exact breaks."""
    sep = "" if lang in NO_SPACE_LANGS else " "
    parts: list[str] = []
    breaks: list[list[int]] = []
    pos = 0
    for i, sentence in enumerate(sentences):
        if i:
            parts.append(sep)
            pos += len(sep)
        parts.append(sentence)
        breaks.append([pos, pos + len(sentence)])
        pos += len(sentence)
    return "".join(parts), breaks
