"""Model cards that say what a model is: base model, data, languages, licence, how it was trained.

sentence-transformers writes ``README.md`` on every save from ``model.model_card_data``, but a
model loaded from a local folder has no base model there ("Unknown"), and a ``datasets.Dataset``
built in memory has no name ("Unnamed Dataset"). polyret fills what sentence-transformers reads
(without the hub lookups its setters make: a name without an ``id`` is never looked up) and adds
a section of its own with the batch strategy, budget, precision and dev scores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# A polyret.training.config.TrainConfig (named by type only: models sits below training).
TrainConfig = Any

# Bundled spec -> (upstream hub id, its licence).
BUNDLED_UPSTREAM = {"bundled:multilingual-e5-small": ("intfloat/multilingual-e5-small", "mit")}
# Training data -> (name on the card, licence); see the README's "Data and licences".
DATA = {
    "mlqa-r": ("MLQA-R (LAReQA)", "CC BY-NC 4.0: research and non-commercial use only"),
    "xquad-r": ("XQuAD-R (LAReQA)", "CC BY-SA 4.0"),
}
SECTION = "## Training (polyret)"


def base_model_id(spec: str) -> str | None:
    """The hub id a model spec stands for: the upstream model of a bundled one, a hub id itself,
    or the ``base_model`` a polyret-written folder records; None when unknown."""
    if spec in BUNDLED_UPSTREAM:
        return BUNDLED_UPSTREAM[spec][0]
    path = Path(spec).expanduser()
    if path.is_dir():
        from polyret.models.identity import read_identity

        record = read_identity(path) or {}
        base = record.get("base_model")
        return base_model_id(base) if isinstance(base, str) and base != spec else None
    return spec if spec.count("/") == 1 and not spec.startswith((".", "/")) else None


def fill_training_card(
    model: SentenceTransformer, config: TrainConfig, languages: list[str]
) -> None:
    """Set the card data sentence-transformers renders: base model, languages, licence of the
    base model, the training data by name, tags. No hub lookups."""
    card = model.model_card_data
    card.local_files_only = True  # never look the names up on the hub
    base = base_model_id(config.model)
    if base is not None:
        card.base_model = base
    if config.model in BUNDLED_UPSTREAM:
        card.license = BUNDLED_UPSTREAM[config.model][1]
    card.language = list(languages)
    name = DATA.get(config.dataset, (Path(config.dataset).name, None))[0]
    card.train_datasets = [{"name": f"{name}, {', '.join(languages)}"}]
    card.add_tags(["polyret", f"polyret-{config.sampler.strategy.value}"])


def training_section(
    config: TrainConfig,
    *,
    steps: int,
    precision: str,
    data_summary: dict[str, Any],
    dev_metrics: dict[str, float] | None = None,
    best_step: int | None = None,
) -> list[str]:
    """Markdown lines of the card's polyret section for a trained model."""
    sampler = config.sampler
    batches = {
        "mono": "monolingual batches only",
        "cross": "cross-lingual batches only",
        "mixed": "mixed-language batches only (every pair its own languages)",
    }.get(sampler.strategy.value)
    if batches is None:
        batches = f"hybrid: α = {sampler.alpha:g} of the batches monolingual"
        if sampler.mixed_share:
            batches += f", {sampler.mixed_share:g} mixed-language"
        batches += f", {sampler.cross_share:g} cross-lingual"
    if sampler.align_share:
        batches += (
            f"; {sampler.align_share:g} of the steps parallel-question alignment (translation "
            "ranking), the rest as above"
        )
    name, licence = DATA.get(config.dataset, (config.dataset, None))
    languages = data_summary.get("languages") or config.languages or []
    pairs = (data_summary.get("pairs") or {}).get("pairs")
    lines = [
        SECTION,
        "",
        f"- Base model: {base_model_id(config.model) or config.model} (`{config.model}`)",
        f"- Training data: {name}, languages {', '.join(languages)}"
        + (f", {pairs:,} question-passage pairs" if pairs else "")
        + (f"; data licence {licence}" if licence else ""),
        f"- Batches: {batches}"
        + (
            f"; {config.hard_negatives} same-language hard negative(s) per pair"
            if config.hard_negatives
            else ""
        ),
        f"- Budget: {steps} steps of {config.batch_size} pairs, learning rate {config.learning_rate:g}, "
        f"scale {config.scale:g} (1 / temperature), precision {precision}, seed {config.seed}",
        "- Rerun: `polyret train --config polyret_train_config.yaml` (in the run's folder)",
    ]
    if best_step is not None:
        lines.append(
            f"- Checkpoint: step {best_step} of {steps}, the best dev {config.best_metric} among "
            f"the evaluations every {config.eval_steps} steps"
        )
    if dev_metrics:
        scores = ", ".join(
            f"{key.removeprefix('dev_').replace('_map', ' mAP')} {value:.4f}"
            for key, value in dev_metrics.items()
            if key.endswith("_map")
        )
        lines.append(f"- Dev split scores: {scores}")
    return [*lines, ""]


def insert_section(folder: str | os.PathLike[str], lines: list[str]) -> None:
    """Put ``lines`` into the folder's README.md after its title (replacing an earlier polyret
    section), or start a README with them."""
    path = Path(folder) / "README.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if SECTION in text:  # drop the old section: up to the next heading of its level
        head, _, rest = text.partition(SECTION)
        nxt = rest.find("\n## ")
        text = head + (rest[nxt + 1 :] if nxt >= 0 else "")
    body = "\n".join(lines) + "\n"
    title = text.find("\n# ")
    if title < 0:
        text = body + text
    else:
        end = text.find("\n", title + 1)
        end = len(text) if end < 0 else end + 1
        text = text[:end] + "\n" + body + text[end:]
    path.write_text(text, encoding="utf-8")


def front_matter(fields: dict[str, Any]) -> str:
    """YAML front matter (``---`` ... ``---``) for a README, from the set ``fields``."""
    import yaml

    kept = {k: v for k, v in fields.items() if v not in (None, [], "")}
    return "---\n" + yaml.safe_dump(kept, sort_keys=False, allow_unicode=True) + "---\n"
