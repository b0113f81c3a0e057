"""Named training recipes: ``polyret train --preset NAME`` trains as a measured result did.

A preset is the set of options a committed result was trained with, so that one flag reproduces
it on other data or another model; a config file and flags still override any of them. A test
keeps each preset equal to the experiment strategy it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyret.errors import ConfigError

__all__ = ["PRESETS", "Preset", "preset_options"]


@dataclass(frozen=True)
class Preset:
    """A named recipe: ``options`` (flat ``TrainConfig`` names) and where its result is."""

    name: str
    summary: str
    evidence: str  # the experiment config and strategy it reproduces, and its results
    options: Mapping[str, Any] = field(default_factory=dict)
    experiment: str = "experiments/protocol_a.yaml"  # the config whose strategy it is
    strategy: str = ""  # that strategy's name (a test keeps the two equal)


# Protocol A's recipe with one same-language hard negative per pair (experiments/protocol_a.yaml).
_PROTOCOL_A_NEG: dict[str, Any] = {
    "dataset": "mlqa-r",
    "languages": ["ar", "de", "en", "es", "hi", "vi", "zh"],
    "exclude_titles": ["Prime number", "Harvard University"],
    "dev_fraction": 0.0,
    "strategy": "hybrid",
    "alpha": 0.5,
    "hard_negatives": 1,
    "batch_size": 32,
    "max_steps": 300,
    "learning_rate": 5e-5,
    "scale": 100.0,
    "warmup_ratio": 0.1,
    "max_query_length": 48,
    "max_passage_length": 96,
    "freeze_word_embeddings": True,
    # As the measured runs trained (protocol A pins them for every run alike).
    "length_chunk_size": 0,
    "loss_precision": "autocast",
}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="hybrid-neg",
            summary=(
                "hybrid batches (alpha 0.5) with one same-language hard negative per pair from "
                "the answer's paragraph first: protocol A's first-round design"
            ),
            evidence=(
                "experiments/protocol_a.yaml, strategy hybrid-0.5-neg; results/designs/README.md"
            ),
            strategy="hybrid-0.5-neg",
            options=_PROTOCOL_A_NEG,
        ),
        Preset(
            name="hybrid-neg-article",
            summary=(
                "hybrid-neg with the negative drawn from anywhere in the answer's article, not "
                "its paragraph first: the recommended recipe, the best multilingual pool score"
            ),
            evidence=(
                "experiments/protocol_a.yaml, strategy hybrid-0.5-neg-article; "
                "results/designs/README.md"
            ),
            strategy="hybrid-0.5-neg-article",
            options={**_PROTOCOL_A_NEG, "negative_source": "article"},
        ),
    )
}


def preset_options(name: str) -> dict[str, Any]:
    """The options of preset ``name`` (a copy); ConfigError names the known presets."""
    preset = PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return {k: list(v) if isinstance(v, list) else v for k, v in preset.options.items()}
