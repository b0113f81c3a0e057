"""Fit a debiaser from calibration text, and save or load a debiased model."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from polyret.debias.calibration import Calibration
from polyret.debias.centering import CenteringDebiaser, LanguageCentering
from polyret.debias.debiaser import KINDS, Debiaser, Kind
from polyret.debias.options import CentroidSource, Method
from polyret.debias.projection import ProjectionDebiaser
from polyret.errors import ConfigError, ModelError, parse_enum
from polyret.io import atomic_path, write_json, write_text
from polyret.progress import bars_on

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import Tensor

logger = logging.getLogger(__name__)

RECORD_FILE = "polyret_debias.json"


def encode_calibration(
    model: SentenceTransformer,
    calibration: Mapping[str, Sequence[str]],
    *,
    kinds: Sequence[Kind] = KINDS,
    batch_size: int = 64,
    show_progress_bar: bool = False,
) -> dict[Kind, dict[str, Tensor]]:
    """Encode every language's sentences as each of ``kinds``: ``out[kind][lang]`` ``[n_lang, d]`` (CPU)."""
    out: dict[Kind, dict[str, Tensor]] = {kind: {} for kind in kinds}
    for lang, texts in calibration.items():
        if not texts:
            raise ConfigError(f"no calibration sentences for language {lang!r}")
        for kind in kinds:
            encode = model.encode_query if kind == "query" else model.encode_document
            emb = encode(
                list(texts),
                batch_size=batch_size,
                convert_to_tensor=True,
                show_progress_bar=bars_on(show_progress_bar),
            )
            out[kind][lang] = emb.detach().to("cpu", torch.float32)
        logger.info("encoded %d calibration sentences of %s", len(texts), lang)
    return out


def centroids_from_embeddings(
    embeddings: Mapping[Kind, Mapping[str, Tensor]],
    source: CentroidSource | str = CentroidSource.POOLED,
) -> dict[Kind, dict[str, Tensor]]:
    """Centroids ``[kind][lang]`` ``[d]`` for both kinds from calibration embeddings ``[kind][lang]`` ``[n, d]``."""
    source = parse_enum(CentroidSource, source, "centroids")
    for kind in source.encodings():
        if kind not in embeddings:
            raise ConfigError(f"centroids={source.value} needs the calibration encoded as {kind}")
    means = {
        kind: {lang: e.mean(0) for lang, e in embeddings[kind].items()}
        for kind in source.encodings()
    }
    if source is CentroidSource.PER_KIND:
        return {"query": means["query"], "passage": means["passage"]}
    if source is CentroidSource.POOLED:
        pooled = {
            lang: (means["query"][lang] + means["passage"][lang]) / 2 for lang in means["query"]
        }
        return {"query": pooled, "passage": pooled}
    only = means[source.encodings()[0]]
    return {"query": only, "passage": only}


def query_centroids(
    base: Mapping[str, Tensor], query_means: Mapping[str, Tensor]
) -> tuple[dict[str, Tensor], list[str]]:
    """Query centroids ``[lang]`` ``[d]`` from real queries where there are some.

    A language with queries gets their mean embedding ``query_means[lang]``. Any other language
    of ``base`` (the calibration's query-kind centroids) gets ``base[lang]`` moved by the mean
    shift ``query_means[l] - base[l]`` of the languages that have queries: the step from plain
    text to questions is much alike across languages. Returns the centroids, in ``base``'s order,
    and the languages whose centroid was transferred that way.
    """
    have = [lang for lang in base if lang in query_means]
    if not have:
        raise ConfigError(f"the queries cover none of the calibrated languages {', '.join(base)}")
    shift = torch.stack([query_means[lang] - base[lang] for lang in have]).mean(0)
    out = {lang: query_means[lang] if lang in query_means else base[lang] + shift for lang in base}
    return out, [lang for lang in base if lang not in query_means]


def fit_from_embeddings(
    embeddings: Mapping[Kind, Mapping[str, Tensor]],
    *,
    method: Method | str = Method.CENTER,
    centroids: CentroidSource | str = CentroidSource.POOLED,
    k: int | None = None,
    uncentered_languages: Sequence[str] = (),
    default_kind: Kind = "passage",
    queries: Mapping[str, Tensor] | None = None,
) -> Debiaser:
    """Fit a debiaser on calibration embeddings ``[kind][lang]`` ``[n, d]`` (see :func:`fit_centering`).

    ``queries``: real queries encoded as queries, ``[lang]`` ``[n, d]``; their means replace the
    query centroids (see :func:`query_centroids`).
    """
    method = parse_enum(Method, method, "method")
    source = parse_enum(CentroidSource, centroids, "centroids")
    per_kind = centroids_from_embeddings(embeddings, source)
    if queries is not None:
        means = {lang: e.mean(0) for lang, e in queries.items()}
        per_kind = {
            "query": query_centroids(per_kind["query"], means)[0],
            "passage": per_kind["passage"],
        }
    if method is Method.CENTER:
        if k is not None:
            raise ConfigError("k (number of directions) applies to --method project only")
        return CenteringDebiaser.from_centroids(
            per_kind, uncentered_languages=uncentered_languages, default_kind=default_kind
        )
    apart = source is CentroidSource.PER_KIND or queries is not None
    distinct = per_kind if apart else {"query": per_kind["query"]}
    return ProjectionDebiaser.from_centroids(distinct, k=k)


def fit_centering(
    model: SentenceTransformer,
    calibration: Calibration | Mapping[str, Sequence[str]],
    *,
    method: Method | str = Method.CENTER,
    centroids: CentroidSource | str = CentroidSource.POOLED,
    k: int | None = None,
    uncentered_languages: Sequence[str] = (),
    default_kind: Kind = "passage",
    queries: Calibration | Mapping[str, Sequence[str]] | None = None,
    batch_size: int = 64,
    show_progress_bar: bool = False,
) -> Debiaser:
    """Encode ``calibration`` (``lang -> sentences``) with ``model`` and fit a debiaser.

    ``method``: "center" or "project"; ``centroids``: see :class:`CentroidSource`; ``k``: the
    number of directions projected out (default: languages - 1). ``uncentered_languages`` (a
    :class:`Calibration`'s ``missing`` by default) are accepted as ``lang`` but left uncentered.
    ``default_kind`` is the kind the centering module assumes when ``encode`` gets no task.
    ``queries`` (``lang -> queries``, e.g. from :func:`~polyret.debias.load_queries`): real
    queries whose mean embeddings become the query centroids (see :func:`query_centroids`);
    languages of ``queries`` that ``calibration`` lacks are ignored.
    """
    if isinstance(calibration, Calibration):
        uncentered_languages = tuple(uncentered_languages) or calibration.missing
        calibration = calibration.texts
    if isinstance(queries, Calibration):
        queries = queries.texts
    source = parse_enum(CentroidSource, centroids, "centroids")
    embeddings = encode_calibration(
        model,
        calibration,
        kinds=source.encodings(),
        batch_size=batch_size,
        show_progress_bar=bars_on(show_progress_bar),
    )
    query_embeddings = None
    if queries is not None:
        # Only the calibrated languages' queries are used; query_centroids rejects an empty set.
        kept = {lang: texts for lang, texts in queries.items() if lang in calibration}
        query_embeddings = encode_calibration(
            model,
            kept,
            kinds=("query",),
            batch_size=batch_size,
            show_progress_bar=bars_on(show_progress_bar),
        )["query"]
    return fit_from_embeddings(
        embeddings,
        method=method,
        centroids=source,
        k=k,
        uncentered_languages=uncentered_languages,
        default_kind=default_kind,
        queries=query_embeddings,
    )


def save_debiased_model(
    model: SentenceTransformer,
    debiaser: Debiaser,
    out: str | os.PathLike[str],
    *,
    record: Mapping[str, Any] | None = None,
) -> Path:
    """Save ``model`` with ``debiaser`` appended to folder ``out`` (atomically), with a JSON record
    and a name of its own, ``polyret/<folder name>`` (see :mod:`polyret.models.identity`)."""
    out = Path(out)
    from polyret.models.identity import model_name, write_identity
    from polyret.models.save import remember_architecture, standard_prompts

    debiased = standard_prompts(remember_architecture(debiaser.attach(model)))
    name = model_name(out.resolve().name)
    debiased.model_card_data.model_name = name
    with atomic_path(out) as tmp:
        debiased.save(str(tmp))
        write_json(
            tmp / RECORD_FILE,
            {"method": debiaser.method, "languages": debiaser.languages, **(record or {})},
        )
        write_identity(
            tmp,
            name,
            kind="debiased",
            method=debiaser.method,
            base_model=(record or {}).get("base_model"),
        )
        write_text(tmp / "README.md", model_card(debiaser, name, (record or {}).get("base_model")))
    return out


# How a saved model loads, in one line: the last line `polyret debias` prints.
HOW_TO_LOAD = {
    "center": "it needs polyret installed (its last module is polyret's LanguageCentering): load "
    "it with polyret.debias.load_debiased(path) (no remote code) or, where polyret is installed, "
    "SentenceTransformer(path, trust_remote_code=True); --method project writes a model that "
    "loads without polyret",
    "project": "SentenceTransformer(path) loads it as it is, without polyret and without remote "
    "code (a plain Dense projection and Normalize)",
}


def model_card(debiaser: Debiaser, name: str, base_model: str | None) -> str:
    """The saved folder's README.md: what the model is and how to load it."""
    langs = ", ".join(debiaser.languages)
    what = {
        "center": "each embedding's language centroid (estimated from calibration text) is "
        "subtracted and the embedding renormalized; the language is the nearest centroid's, or "
        'the one given as `model.encode_query(texts, lang="de")`',
        "project": "the directions in which the language centroids (estimated from calibration "
        "text) differ are projected out by one fixed linear map, then the embedding renormalized",
    }[debiaser.method]
    from polyret.models.card import base_model_id, front_matter

    hub_base = base_model_id(base_model) if base_model else None
    meta = front_matter(
        {
            "library_name": "sentence-transformers",
            "pipeline_tag": "sentence-similarity",
            "base_model": hub_base,
            "language": list(debiaser.languages),
            "tags": ["sentence-transformers", "polyret", f"language-{debiaser.method}ing"],
        }
    )
    lines = [
        meta.rstrip("\n"),
        f"# {name}",
        "",
        f"{base_model or 'A sentence-transformers model'} with language debiasing appended by "
        f"polyret (`polyret debias --method {debiaser.method}`, languages {langs}): {what}. "
        "The calibration text and options are in `polyret_debias.json`.",
        "",
        "## Loading",
        "",
    ]
    if debiaser.method == "center":
        lines += [
            "The last module is polyret's own (`polyret.debias.centering.LanguageCentering`), so "
            "loading this folder needs polyret installed in the environment. Without remote code:",
            "",
            "```python",
            "from polyret.debias import load_debiased",
            "",
            'model = load_debiased("PATH")  # or polyret.models.load_model("PATH")',
            "```",
            "",
            "With sentence-transformers' loader, where polyret is installed as well:",
            "",
            "```python",
            "from sentence_transformers import SentenceTransformer",
            "",
            'model = SentenceTransformer("PATH", trust_remote_code=True)',
            "```",
            "",
            "`trust_remote_code=True` lets the folder name code to import; without polyret the "
            "load fails. A model that loads with sentence-transformers alone: debias with "
            "`polyret debias --method project` instead.",
        ]
    else:
        lines += [
            "Plain sentence-transformers modules: no polyret and no remote code needed.",
            "",
            "```python",
            "from sentence_transformers import SentenceTransformer",
            "",
            'model = SentenceTransformer("PATH")',
            "```",
        ]
    lines += [
        "",
        "Encode with `model.encode_query(...)` and `model.encode_document(...)` (prompts "
        "`query: ` / `passage: ` as in the base model).",
        "",
    ]
    return "\n".join(lines)


def module_classes() -> dict[str, type]:
    """polyret's own module classes by the class path that ``modules.json`` stores."""
    return {f"{LanguageCentering.__module__}.{LanguageCentering.__qualname__}": LanguageCentering}


def load_debiased(path: str | os.PathLike[str], device: str | None = None) -> SentenceTransformer:
    """Load a model saved by :func:`save_debiased_model` without ``trust_remote_code``.

    sentence-transformers >= 6.0 imports a module class from outside its own package only with
    ``trust_remote_code=True`` (which would also let the folder run code of its own). This
    resolves polyret's :class:`LanguageCentering` to the class already imported here and leaves
    every other class to the usual, untrusted, loading.
    """
    from sentence_transformers import SentenceTransformer

    path = Path(path)
    if not (path / "modules.json").is_file():
        raise ModelError(f"{path} holds no sentence-transformers model (no modules.json)")
    loader = getattr(SentenceTransformer, "_load_with_module_classes", None)
    if loader is None:  # a sentence-transformers release without it: the flag is the only way
        raise ModelError(
            f"this sentence-transformers cannot map polyret's module class; load {path} with "
            f"SentenceTransformer(path, trust_remote_code=True)"
        )
    from polyret.models.identity import apply_identity

    try:
        model = loader(str(path), module_classes(), device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load debiased model {path}: {exc}") from None
    return apply_identity(model, path)
