"""The one saved format of every evaluation (``polyret eval --output-dir``, the experiment's cached
evaluations): a ``LareqaResult`` with its per-query ranks, saved and reloaded.

``ranks.npz`` holds one int32 array per setting (no pickle); ``settings.json.gz`` holds the
setting descriptions and query ids. Everything in ``LareqaResult`` is recomputed from these.
``sha256sums`` seals the three files (``sha256sum -c`` reads it): an evaluation whose files do
not match it (a truncated copy, a bad merge, a hand edit) is reported and counts as not done,
so the runner evaluates it again instead of using it.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from polyret.evaluation.results import LareqaResult, SettingResult
from polyret.io import atomic_path

RANKS_FILE = "ranks.npz"
SETTINGS_FILE = "settings.json.gz"
DONE_FILE = "results.json"
SEAL_FILE = "sha256sums"
SEALED = (RANKS_FILE, SETTINGS_FILE, DONE_FILE)
logger = logging.getLogger(__name__)
_verified: dict[tuple[str, tuple[float, ...]], str | None] = {}


def save_result(result: LareqaResult, folder: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``result`` into ``folder`` atomically (the folder appears only when complete)."""
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        write_result(result, tmp, meta)
    return folder


def write_result(result: LareqaResult, folder: Path, meta: dict[str, Any]) -> None:
    """Write the saved files of ``result`` into the existing ``folder``, sealed: the per-query
    ranks, the settings, and ``results.json`` with ``meta`` (whose keys win), every number of
    ``result`` and its language bias, NaN written as null."""
    from polyret.evaluation.bias import language_bias

    arrays: dict[str, np.ndarray] = {}
    settings = []
    for i, s in enumerate(result.settings.values()):
        arrays[f"ranks_{i}"] = s.ranks.astype(np.int32)
        if s.own_top is not None:
            arrays[f"own_top_{i}"] = np.asarray(s.own_top, dtype=np.float32)
        for key, values in (s.bias_values or {}).items():
            arrays[f"bias_{i}_{key}"] = np.asarray(values, dtype=np.float64)
        settings.append(
            {
                "query_lang": s.query_lang,
                "candidate_lang": s.candidate_lang,
                "query_ids": s.query_ids,
                "n_candidates": s.n_candidates,
                "rank_langs": s.rank_langs,
                "ks": list(s.ks),
                "ndcg_k": s.ndcg_k,
                "top_k": s.top_k,
                "extra_metrics": list(s.extra_metrics),
                "bias_values": sorted(s.bias_values or {}),
            }
        )
    header = {
        "dataset": result.dataset,
        "languages": result.languages,
        "seen_languages": result.seen_languages,
        "tie_rule": result.tie_rule,
        "candidate_text": result.candidate_text,
        "timings": result.timings,
        "settings": settings,
    }
    np.savez_compressed(folder / RANKS_FILE, **arrays)
    with gzip.open(folder / SETTINGS_FILE, "wt", encoding="utf-8") as f:
        json.dump(header, f)
    numbers = {k: v for k, v in result.to_dict().items() if k not in meta}
    record = finite({**meta, **numbers, "bias": language_bias(result)})
    (folder / DONE_FILE).write_text(
        json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8"
    )
    seal(folder)


def finite(obj: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become null (strict JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def seal(folder: str | Path) -> None:
    """Write ``sha256sums`` for the evaluation files of ``folder``."""
    from polyret.io import sha256_file

    folder = Path(folder)
    lines = [f"{sha256_file(folder / name)}  {name}\n" for name in SEALED]
    (folder / SEAL_FILE).write_text("".join(lines), encoding="utf-8")


def problem(folder: str | Path) -> str | None:
    """What is wrong with a saved evaluation (a file missing, or not what ``sha256sums`` says),
    or None when it is whole. Folders written before the seal are checked by loading them."""
    from polyret.io import sha256_file

    folder = Path(folder)
    missing = [name for name in SEALED if not (folder / name).is_file()]
    if missing:
        return f"{folder / missing[0]} is missing"
    sealed = folder / SEAL_FILE
    files = [folder / name for name in (*SEALED, SEAL_FILE) if (folder / name).is_file()]
    key = (str(folder.resolve()), tuple(f.stat().st_mtime for f in files))
    if key in _verified:
        return _verified[key]
    found: str | None = None
    if sealed.is_file():
        expected = {}
        for line in sealed.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            expected[name] = digest
        for name in SEALED:
            if expected.get(name) != sha256_file(folder / name):
                found = f"{folder / name} does not match {sealed} (truncated, corrupt or edited)"
                break
    else:
        try:
            load_result(folder)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            found = f"{folder} cannot be read ({type(exc).__name__}: {exc})"
    _verified[key] = found
    return found


def is_saved(folder: str | Path) -> bool:
    """A finished evaluation is in ``folder``, whole (see :func:`problem`; a broken one is
    reported once and counts as not done)."""
    folder = Path(folder)
    if not (folder / DONE_FILE).is_file():
        return False
    found = problem(folder)
    if found is not None:
        if _warned.setdefault(str(folder), found) is found:
            logger.warning("%s: it counts as not done and is evaluated again", found)
        return False
    return True


_warned: dict[str, str] = {}


def load_result(folder: str | Path) -> LareqaResult:
    folder = Path(folder)
    with gzip.open(folder / SETTINGS_FILE, "rt", encoding="utf-8") as f:
        header = json.load(f)
    settings: dict[str, SettingResult] = {}
    with np.load(folder / RANKS_FILE, allow_pickle=False) as arrays:
        for i, spec in enumerate(header["settings"]):
            own = arrays.get(f"own_top_{i}")
            bias = {key: arrays[f"bias_{i}_{key}"] for key in spec.get("bias_values", [])}
            s = SettingResult(
                query_lang=spec["query_lang"],
                candidate_lang=spec["candidate_lang"],
                query_ids=spec["query_ids"],
                n_candidates=spec["n_candidates"],
                ranks=arrays[f"ranks_{i}"].astype(np.int64),
                rank_langs=spec["rank_langs"],
                ks=tuple(spec["ks"]),
                ndcg_k=spec["ndcg_k"],
                own_top=own,
                top_k=spec["top_k"],
                extra_metrics=tuple(spec.get("extra_metrics", ())),
                bias_values=bias or None,
            )
            settings[s.name] = s
    return LareqaResult(
        dataset=header["dataset"],
        languages=header["languages"],
        settings=settings,
        seen_languages=header["seen_languages"],
        tie_rule=header["tie_rule"],
        candidate_text=header["candidate_text"],
        timings=header["timings"],
    )
