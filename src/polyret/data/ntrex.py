"""NTREX-128: its file layout, its documents, and the fixed split into calibration and evaluation.

Layout of the ``ntrex-128`` folder of a data root (:mod:`polyret.data.registry` finds or
downloads it)::

    NTREX-128/newstest2019-src.eng.txt.gz     the English source (code ``src.eng``)
    NTREX-128/newstest2019-ref.<code>.txt.gz  the human translations (``deu``, ``zho-CN``, ...)
    DOCUMENT_IDS.tsv                          the document id of each line (``bbc.381790``)
    LANGUAGES.tsv                             code -> language name

Plain ``.txt`` files are read too. Every file has one sentence per line, line-aligned across
languages (1,997 lines in the staged data), and line ``i`` of ``DOCUMENT_IDS.tsv`` names the
document of line ``i``: 123 news documents of 4-30 consecutive lines.

**The split** (:data:`SPLIT_RULE`). A document is in the *evaluation* part when the first byte of
the SHA-256 of its id (UTF-8) is odd, otherwise in the *calibration* part. The rule depends on
the id alone, so it never changes with the file order, the languages loaded or the polyret
version. Staged data: calibration 61 documents / 945 sentences, evaluation 62 / 1,052.

* The calibration part is the only NTREX text that language centering
  (``polyret debias --calibration ntrex``) and NTREX training pairs
  (:func:`polyret.pairs.load_ntrex_pairs`) read; asking them for the evaluation part is an error.
* The evaluation part is what ``polyret eval --dataset ntrex`` scores
  (:mod:`polyret.evaluation.ntrex`), which refuses calibration text holding evaluated sentences.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from polyret.errors import ConfigError, DataError, parse_enum
from polyret.io import read_lines

# The name that stands for NTREX-128's calibration part wherever a calibration source is given
# (``polyret debias --calibration ntrex``, ``centering.calibration: ntrex``).
NTREX_SOURCE = "ntrex"

__all__ = [
    "DOCUMENT_IDS_FILE",
    "NTREX_CODES",
    "NTREX_SOURCE",
    "SOURCE_CODE",
    "SPLIT_RULE",
    "NtrexPart",
    "NtrexText",
    "document_part",
    "load_ntrex",
    "ntrex_code",
    "ntrex_file",
    "ntrex_folder",
    "read_document_ids",
    "read_lines",
    "require_calibration_part",
]

DATASET = "ntrex-128"  # the folder under a data root, and the registry name
SOURCE_CODE = "src.eng"
DOCUMENT_IDS_FILE = "DOCUMENT_IDS.tsv"
FILES_FOLDER = "NTREX-128"

SPLIT_RULE = (
    "by document: a document is in the evaluation part when the first byte of "
    "sha256(document id, UTF-8) is odd, otherwise in the calibration part; centering "
    "calibration and NTREX training pairs read only the calibration part"
)

# ISO 639-1 code -> NTREX-128 file code, where LANGUAGES.tsv makes it unambiguous (the base
# variant where NTREX has several: en -> the English source, pt -> por, fr -> fra,
# zh -> zho-CN). Left out: ku (kmr or ckb-Arab), sr (Cyrillic or Latin) and the languages without
# an ISO 639-1 code; pass their NTREX code (e.g. srp-Cyrl) instead.
NTREX_CODES: dict[str, str] = {
    "af": "afr", "am": "amh", "ar": "arb", "az": "aze-Latn", "ba": "bak", "be": "bel",
    "bg": "bul", "bn": "ben", "bo": "bod", "bs": "bos", "ca": "cat", "cs": "ces",
    "cy": "cym", "da": "dan", "de": "deu", "dv": "div", "dz": "dzo", "ee": "ewe",
    "el": "ell", "en": "src.eng", "es": "spa", "et": "est", "eu": "eus", "fa": "fas",
    "fi": "fin", "fj": "fij", "fo": "fao", "fr": "fra", "ga": "gle", "gl": "glg",
    "gu": "guj", "ha": "hau", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun",
    "hy": "hye", "id": "ind", "ig": "ibo", "is": "isl", "it": "ita", "ja": "jpn",
    "ka": "kat", "kk": "kaz", "km": "khm", "kn": "kan", "ko": "kor", "ky": "kir",
    "lb": "ltz", "lo": "lao", "lt": "lit", "lv": "lav", "mg": "mlg", "mi": "mri",
    "mk": "mkd", "ml": "mal", "mn": "mon", "mr": "mar", "ms": "msa", "mt": "mlt",
    "my": "mya", "nb": "nob", "nd": "nde", "ne": "nep", "nl": "nld", "nn": "nno",
    "ny": "nya", "om": "orm", "pa": "pan", "pl": "pol", "ps": "pus", "pt": "por",
    "ro": "ron", "ru": "rus", "rw": "kin", "sd": "snd-Arab", "si": "sin", "sk": "slk",
    "sl": "slv", "sm": "smo", "sn": "sna-Latn", "so": "som", "sq": "sqi", "ss": "ssw",
    "sv": "swe", "sw": "swa", "ta": "tam", "te": "tel", "tg": "tgk-Cyrl", "th": "tha",
    "ti": "tir", "tk": "tuk", "tn": "tsn", "to": "ton", "tr": "tur", "tt": "tat",
    "ty": "tah", "ug": "uig", "uk": "ukr", "ur": "urd", "uz": "uzb", "ve": "ven",
    "vi": "vie", "wo": "wol", "xh": "xho", "yo": "yor", "zh": "zho-CN", "zu": "zul",
}  # fmt: skip


class NtrexPart(str, Enum):
    """The two halves of NTREX-128 (:data:`SPLIT_RULE`).

    CALIBRATION: text that may shape a model or its centering: centering calibration sentences
        and NTREX training pairs. Never evaluated.
    EVALUATION: the held-out documents that ``polyret eval --dataset ntrex`` scores. Never used
        to calibrate or train.
    """

    CALIBRATION = "calibration"
    EVALUATION = "evaluation"


def document_part(doc_id: str) -> NtrexPart:
    """The part of NTREX-128 that document ``doc_id`` belongs to (:data:`SPLIT_RULE`)."""
    odd = hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % 2 == 1
    return NtrexPart.EVALUATION if odd else NtrexPart.CALIBRATION


def require_calibration_part(part: str | NtrexPart, purpose: str) -> NtrexPart:
    """``part`` when it is the calibration part; a :class:`ConfigError` naming ``purpose`` otherwise."""
    part = parse_enum(NtrexPart, part, "NTREX-128 part")
    if part is not NtrexPart.CALIBRATION:
        raise ConfigError(
            f"{purpose} may read only NTREX-128's calibration part: the {part.value} part is held "
            f"out for polyret eval --dataset ntrex (split {SPLIT_RULE})"
        )
    return part


def ntrex_folder(root: str | os.PathLike[str]) -> Path:
    """The ``ntrex-128`` folder: ``root`` itself or ``root/ntrex-128`` (a data root)."""
    root = Path(root)
    for folder in (root, root / DATASET):
        if (folder / FILES_FOLDER).is_dir():
            return folder
    raise DataError(f"NTREX-128 folder not found (expected <root>/{FILES_FOLDER}/)", path=root)


def _file_name(code: str) -> str:
    return f"newstest2019-{code}.txt" if code == SOURCE_CODE else f"newstest2019-ref.{code}.txt"


def _find_file(folder: Path, code: str) -> Path | None:
    name = _file_name(code)
    for candidate in (folder / FILES_FOLDER / f"{name}.gz", folder / FILES_FOLDER / name):
        if candidate.is_file():
            return candidate
    return None


def ntrex_code(
    lang: str, root: str | os.PathLike[str], codes: Mapping[str, str] | None = None
) -> str | None:
    """NTREX file code of ``lang`` (an ISO 639-1 code or an NTREX code with a file); None when unknown."""
    table = {**NTREX_CODES, **(codes or {})}
    if lang in table:
        return table[lang]
    return lang if _find_file(ntrex_folder(root), lang) is not None else None


def ntrex_file(root: str | os.PathLike[str], lang: str) -> Path:
    """The file of ``lang`` (an ISO 639-1 code or an NTREX code) in ``root`` (``ntrex-128`` or a data root)."""
    folder = ntrex_folder(root)
    code = NTREX_CODES.get(lang, lang)
    path = _find_file(folder, code)
    if path is None:
        raise DataError(
            f"no NTREX-128 file for language {lang!r} (looked for {_file_name(code)}[.gz]); "
            f"known ISO codes: {', '.join(sorted(NTREX_CODES))}, or use an NTREX code from LANGUAGES.tsv",
            path=folder / FILES_FOLDER,
        )
    return path


def read_document_ids(root: str | os.PathLike[str]) -> list[str]:
    """The document id of every line (``DOCUMENT_IDS.tsv``, first column)."""
    path = ntrex_folder(root) / DOCUMENT_IDS_FILE
    ids = [line.split("\t")[0].strip() for line in read_lines(path)]
    for i, doc in enumerate(ids):
        if not doc:
            raise DataError("empty document id", path=path, record=f"line {i + 1}")
    return ids


@dataclass(frozen=True)
class NtrexText:
    """The lines of one part of NTREX-128 in several languages, with their documents.

    ``lines``: 0-based line numbers (the same in every file) kept, in file order;
    ``documents``: the document id of each kept line; ``texts[lang]``: the stripped text of
    each kept line ('' where the line is empty); ``files[lang]``: the file it was read from;
    ``missing``: requested languages without a file (only with ``missing_ok``).
    """

    folder: Path
    part: NtrexPart
    lines: tuple[int, ...]
    documents: tuple[str, ...]
    texts: dict[str, list[str]]
    files: dict[str, Path]
    missing: tuple[str, ...] = ()

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    @property
    def document_ids(self) -> list[str]:
        """The distinct documents of this part, in file order."""
        return list(dict.fromkeys(self.documents))

    def by_document(self) -> dict[str, list[int]]:
        """Document id -> positions (into ``lines``) of its sentences, in file order."""
        out: dict[str, list[int]] = {}
        for i, doc in enumerate(self.documents):
            out.setdefault(doc, []).append(i)
        return out


def load_ntrex(
    root: str | os.PathLike[str],
    languages: Iterable[str],
    *,
    part: str | NtrexPart,
    codes: Mapping[str, str] | None = None,
    missing_ok: bool = False,
) -> NtrexText:
    """Read ``part`` of NTREX-128 for ``languages`` (ISO 639-1 codes or NTREX codes).

    ``root``: the ``ntrex-128`` folder or a data root holding it. ``codes``: extra or overriding
    ISO -> NTREX code mappings. Every file must have as many lines as ``DOCUMENT_IDS.tsv``. A
    language with neither a code nor a file is a :class:`ConfigError`, a known code without its
    file a :class:`DataError`; with ``missing_ok`` both are listed in ``missing`` instead.
    """
    part = parse_enum(NtrexPart, part, "NTREX-128 part")
    folder = ntrex_folder(root)
    doc_ids = read_document_ids(folder)
    kept = [i for i, doc in enumerate(doc_ids) if document_part(doc) is part]
    texts: dict[str, list[str]] = {}
    files: dict[str, Path] = {}
    missing: list[str] = []
    for lang in languages:
        code = ntrex_code(lang, folder, codes)
        path = None if code is None else _find_file(folder, code)
        if path is None and missing_ok:
            missing.append(lang)
            continue
        if code is None:
            raise ConfigError(
                f"unknown language {lang!r} for NTREX-128: not an ISO 639-1 code with an NTREX file "
                f"nor an NTREX code (see {folder / 'LANGUAGES.tsv'})"
            )
        if path is None:
            raise DataError("file not found", path=folder / FILES_FOLDER / f"{_file_name(code)}.gz")
        lines = read_lines(path, len(doc_ids))
        texts[lang] = [lines[i].strip() for i in kept]
        files[lang] = path
    if not kept:
        raise DataError(
            f"no document of {DOCUMENT_IDS_FILE} is in the {part.value} part ({SPLIT_RULE})",
            path=folder,
        )
    return NtrexText(
        folder,
        part,
        tuple(kept),
        tuple(doc_ids[i] for i in kept),
        texts,
        files,
        tuple(missing),
    )
