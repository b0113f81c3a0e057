"""Two of the paper's questions as tests, in a Holm family of their own.

- *Unseen languages*: does training gain as much on languages it never saw as on the ones it
  trained on? Per strategy and kind, the difference (unseen gain − seen gain), where a gain is
  the trained model's AP minus the base model's on the same question. Unseen settings are those
  :meth:`LareqaResult.is_seen` calls unseen (a query language, or for cross either language,
  outside the training languages).
- *High-resource languages*: does training degrade monolingual retrieval there? Per strategy,
  its monolingual mAP minus the base model's over the high-resource query languages.

The unit is the parallel question, clustered by article, with the seeds' variance added
(:mod:`polyret.evaluation.significance`); the base model is one fixed model. A question enters
the unseen test only when it has both seen and unseen settings of the kind, weighted equally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from polyret.evaluation.results import LareqaResult, SettingResult
from polyret.evaluation.significance import (
    Comparison,
    QuestionValues,
    compare,
    compare_values,
    question_values,
    with_holm_within,
)
from polyret.experiment.stats import KINDS

FAMILY = "research questions (unseen and high-resource languages)"


@dataclass(frozen=True)
class QuestionTest:
    """One test of the family: ``question`` is "unseen" or "high-resource"."""

    question: str
    strategy: str
    kind: str
    test: Comparison


def _seen(result: LareqaResult, setting: SettingResult) -> bool:
    return bool(result.is_seen(setting))


def _unseen(result: LareqaResult, setting: SettingResult) -> bool:
    return result.is_seen(setting) is False


def _unseen_minus_seen(results: Sequence[LareqaResult], kind: str) -> QuestionValues | None:
    """Per seed and question: mean AP over its unseen settings minus over its seen ones."""
    try:
        unseen = question_values(results, kind, where=_unseen)
        seen = question_values(results, kind, where=_seen)
    except ValueError:  # no seen or no unseen settings of this kind
        return None
    common = sorted(set(unseen.ids) & set(seen.ids))
    if not common:
        return None
    at_u = {q: i for i, q in enumerate(unseen.ids)}
    at_s = {q: i for i, q in enumerate(seen.ids)}
    u = unseen.values[:, [at_u[q] for q in common]]
    s = seen.values[:, [at_s[q] for q in common]]
    return QuestionValues(common, u - s, np.full(len(common), 1.0 / len(common)))


def _in(languages: Sequence[str]):  # type: ignore[no-untyped-def]
    wanted = set(languages)

    def where(result: LareqaResult, setting: SettingResult) -> bool:
        return setting.query_lang in wanted

    return where


def question_tests(
    base: LareqaResult,
    runs: Mapping[str, Sequence[LareqaResult]],
    articles: Mapping[str, str] | None,
    *,
    seen_languages: Sequence[str] | None,
    high_resource: Sequence[str] | None,
    family_of: Callable[[str], str] | None = None,
) -> list[QuestionTest]:
    """Every strategy's unseen-vs-seen gain and high-resource monolingual change, Holm-adjusted
    over this family, or within each strategy family (``family_of(strategy)``: the config's
    ``family_of``) when there are several (empty where the evaluation has no seen languages or
    no high-resource ones)."""
    tests: list[QuestionTest] = []
    if seen_languages:
        for kind in KINDS:
            b = _unseen_minus_seen([base], kind)
            if b is None:
                continue
            for name, results in runs.items():
                a = _unseen_minus_seen(results, kind)
                if a is None or a.ids != b.ids:
                    continue
                labels = [articles[q] for q in a.ids] if articles is not None else a.ids
                test = compare(a.values, b.values, labels, weights=a.weights, b_fixed=True)
                tests.append(QuestionTest("unseen", name, kind, test))
    langs = [x for x in (high_resource or []) if x in base.languages]
    if langs:
        where = _in(langs)
        b = question_values(base, "mono", where=where)
        for name, results in runs.items():
            a = question_values(results, "mono", where=where)
            test = compare_values(a, b, articles, b_fixed=True)
            tests.append(QuestionTest("high-resource", name, "mono", test))
    families = [family_of(t.strategy) if family_of else "" for t in tests]
    adjusted = with_holm_within([t.test for t in tests], families)
    return [
        QuestionTest(t.question, t.strategy, t.kind, a)
        for t, a in zip(tests, adjusted, strict=True)
    ]
