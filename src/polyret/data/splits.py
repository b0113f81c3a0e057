"""Which questions go where: article-level train/dev splits and articles left out of training.

Questions are linked across languages by their ids (one id is one question in every language
that holds it), so a split or an exclusion by article title holds in every language, also where
titles are localized (MLQA-R).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyret.errors import ConfigError

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset

logger = logging.getLogger(__name__)

__all__ = [
    "ArticleSplit",
    "excluded_ids",
    "normalize_title",
    "resolve_languages",
    "split_by_article",
]


def normalize_title(title: str) -> str:
    """Title key for matching: case-folded, underscores as spaces, whitespace collapsed."""
    return " ".join(title.replace("_", " ").casefold().split())


def resolve_languages(
    languages: Iterable[str] | None, available: Sequence[str], what: str
) -> list[str]:
    if languages is None:
        return sorted(available)
    if isinstance(languages, str):
        raise ConfigError(f"languages={languages!r}: must be a list of language codes")
    wanted = sorted(set(languages))
    unknown = [x for x in wanted if x not in available]
    if unknown:
        raise ConfigError(
            f"unknown language(s) {unknown} for {what}; available: {sorted(available)}"
        )
    if not wanted:
        raise ConfigError("languages is empty")
    return wanted


def excluded_ids(dataset: LareqaDataset, titles: Iterable[str]) -> set[str]:
    """Ids whose article title, in any loaded language, is one of ``titles`` (normalized)."""
    if isinstance(titles, str):
        raise ConfigError(f"exclude_titles={titles!r}: must be a list of titles")
    wanted = {normalize_title(t) for t in titles}
    if not wanted:
        return set()
    matched: set[str] = set()
    out: set[str] = set()
    for language in dataset.languages.values():
        for q in language.questions:
            key = normalize_title(q.title)
            if key in wanted:
                out.add(q.id)
                matched.add(key)
    if wanted - matched:
        logger.warning(
            "exclude_titles: no article titled %s in %s",
            sorted(wanted - matched),
            dataset.name,
        )
    return out


@dataclass(frozen=True)
class ArticleSplit:
    """Question ids on each side of an article-level train/dev split.

    ``dev_articles`` / ``train_articles`` name each held-out unit by its English title (or the
    title in the first language holding it, in sorted code order).
    """

    train_ids: frozenset[str]
    dev_ids: frozenset[str]
    train_articles: tuple[str, ...]
    dev_articles: tuple[str, ...]
    excluded_ids: frozenset[str]


def split_by_article(
    dataset: LareqaDataset,
    *,
    dev_fraction: float | None = None,
    dev_count: int | None = None,
    seed: int = 0,
    languages: Iterable[str] | None = None,
    exclude_titles: Iterable[str] = (),
) -> ArticleSplit:
    """Hold out whole articles as a dev split; deterministic for ``seed``.

    The rule: every (language, article) is linked to the articles of the other languages that
    hold one of its question ids; a connected set of such articles is one unit and goes wholly to
    train or to dev, so no id, and no article in any language, is on both sides. In XQuAD-R and
    MLQA-R each unit is exactly one English article (MLQA-R titles differ per language, the
    question ids link them). ``dev_fraction`` (of units, rounded, at least 1 when positive) or
    ``dev_count`` units are drawn at random after sorting the units by their title. Ids matched
    by ``exclude_titles`` (as in :func:`build_pairs`) are on neither side.
    """
    if (dev_fraction is None) == (dev_count is None):
        raise ConfigError("give exactly one of dev_fraction and dev_count")
    if dev_fraction is not None and not (
        isinstance(dev_fraction, (int, float)) and 0.0 <= dev_fraction < 1.0
    ):
        raise ConfigError(f"dev_fraction={dev_fraction!r}: must lie in [0, 1)")
    if dev_count is not None and not (
        isinstance(dev_count, int) and not isinstance(dev_count, bool) and dev_count >= 0
    ):
        raise ConfigError(f"dev_count={dev_count!r}: must be a non-negative integer")
    langs = resolve_languages(languages, list(dataset.languages), f"dataset {dataset.name!r}")
    excluded = excluded_ids(dataset, exclude_titles)

    # Union-find over (lang, article index) nodes, joined by shared question ids.
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(x: tuple[str, int]) -> tuple[str, int]:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    first_node: dict[str, tuple[str, int]] = {}
    titles: dict[tuple[str, int], str] = {}
    for lang in langs:
        for q in dataset.languages[lang].questions:
            if q.id in excluded:
                continue
            node = (lang, q.article)
            if node not in parent:
                parent[node] = node
                titles[node] = q.title
            other = first_node.setdefault(q.id, node)
            a, b = find(node), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)

    units: dict[tuple[str, int], list[str]] = {}
    for qid, node in first_node.items():
        units.setdefault(find(node), []).append(qid)
    if not units:
        raise ConfigError(f"no questions left in {dataset.name!r} to split")

    members: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for node in parent:
        members.setdefault(find(node), []).append(node)

    def label(root: tuple[str, int]) -> str:
        nodes = members[root]
        english = [n for n in nodes if n[0] == "en"]
        return titles[min(english or nodes)]

    ordered = sorted(units, key=lambda r: (normalize_title(label(r)), min(units[r])))
    n_units = len(ordered)
    if dev_count is None:
        k = round(dev_fraction * n_units)
        k = max(k, 1) if dev_fraction > 0 else 0
    else:
        k = dev_count
    if k >= n_units:
        raise ConfigError(
            f"a dev split of {k} articles leaves no training articles ({n_units} in total)"
        )
    shuffled = list(ordered)
    random.Random(seed).shuffle(shuffled)
    dev, train = shuffled[:k], shuffled[k:]
    return ArticleSplit(
        train_ids=frozenset(i for r in train for i in units[r]),
        dev_ids=frozenset(i for r in dev for i in units[r]),
        train_articles=tuple(sorted(label(r) for r in train)),
        dev_articles=tuple(sorted(label(r) for r in dev)),
        excluded_ids=frozenset(excluded),
    )
