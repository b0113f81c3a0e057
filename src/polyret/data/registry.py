"""Where the benchmark data lives, and how to get it.

Lookup order for a dataset folder: an explicit ``data_dir`` (``--data-dir``), then
``$POLYRET_DATA``, then polyret's cache (``$POLYRET_CACHE/data``), then a staged
``../shared/data`` folder beside the current directory or beside polyret's source checkout
(where a clone sits in this workplace and in CI), then a download of the public originals
into the cache, each file checked against the sha256 below. All roots share one layout (the
one of the staged ``shared/data`` folder)::

    <root>/lareqa/xquad-r/<lang>.json
    <root>/lareqa/mlqa-r/<lang>.json
    <root>/ntrex-128/NTREX-128/newstest2019-ref.<code>.txt.gz   (+ DOCUMENT_IDS.tsv, LANGUAGES.tsv)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# NTREX-128's file layout lives in polyret.data.ntrex; these names stay importable from here.
from polyret.data.ntrex import NTREX_CODES as NTREX_CODES
from polyret.data.ntrex import ntrex_file as ntrex_file
from polyret.errors import DataError
from polyret.io import atomic_path
from polyret.paths import DATA_ENV, cache_dir

logger = logging.getLogger(__name__)

LAREQA_REPO = "https://raw.githubusercontent.com/google-research-datasets/lareqa"
NTREX_REPO = "https://raw.githubusercontent.com/MicrosoftTranslator/NTREX"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives under a data root, where to download it, its checksum.

    ``sha256`` and ``size`` are of the upstream bytes; ``gzip_local`` files are stored gzipped.
    """

    relpath: str
    url: str
    sha256: str
    size: int
    gzip_local: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    relpath: str  # the dataset's folder under a data root
    description: str
    licence: str
    files: tuple[RemoteFile, ...] = field(default=())


_XQUAD_COMMIT = "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c"
_MLQA_COMMIT = "354d67d1cd066854cdfbf5ad0e6105528976141d"
_NTREX_COMMIT = "8561f6a622db9edad1217683e5c83daefd8bb2bf"

DATASETS: dict[str, DatasetInfo] = {
    "xquad-r": DatasetInfo(
        "xquad-r",
        "lareqa/xquad-r",
        "XQuAD-R (LAReQA): 1,190 parallel questions in 11 languages, 13,014 candidate sentences",
        "CC BY-SA 4.0",
        (
            RemoteFile(
                "lareqa/xquad-r/ar.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/ar.json",
                "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
                2234875,
            ),
            RemoteFile(
                "lareqa/xquad-r/de.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/de.json",
                "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
                732156,
            ),
            RemoteFile(
                "lareqa/xquad-r/el.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/el.json",
                "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
                2810127,
            ),
            RemoteFile(
                "lareqa/xquad-r/en.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/en.json",
                "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
                628651,
            ),
            RemoteFile(
                "lareqa/xquad-r/es.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/es.json",
                "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
                746335,
            ),
            RemoteFile(
                "lareqa/xquad-r/hi.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/hi.json",
                "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
                2408404,
            ),
            RemoteFile(
                "lareqa/xquad-r/ru.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/ru.json",
                "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
                2764904,
            ),
            RemoteFile(
                "lareqa/xquad-r/th.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/th.json",
                "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
                2618544,
            ),
            RemoteFile(
                "lareqa/xquad-r/tr.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/tr.json",
                "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
                827827,
            ),
            RemoteFile(
                "lareqa/xquad-r/vi.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/vi.json",
                "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
                1132303,
            ),
            RemoteFile(
                "lareqa/xquad-r/zh.json",
                f"{LAREQA_REPO}/{_XQUAD_COMMIT}/xquad-r/zh.json",
                "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
                959291,
            ),
        ),
    ),
    "mlqa-r": DatasetInfo(
        "mlqa-r",
        "lareqa/mlqa-r",
        "MLQA-R (LAReQA), MLQA dev: 4,199 questions in 7 languages, each id in 2-4 languages",
        "CC BY-NC 4.0 (non-commercial)",
        (
            RemoteFile(
                "lareqa/mlqa-r/ar.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/ar.json",
                "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137",
                3329081,
            ),
            RemoteFile(
                "lareqa/mlqa-r/de.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/de.json",
                "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886",
                887185,
            ),
            RemoteFile(
                "lareqa/mlqa-r/en.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/en.json",
                "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4",
                2251129,
            ),
            RemoteFile(
                "lareqa/mlqa-r/es.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/es.json",
                "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7",
                819818,
            ),
            RemoteFile(
                "lareqa/mlqa-r/hi.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/hi.json",
                "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654",
                3179023,
            ),
            RemoteFile(
                "lareqa/mlqa-r/vi.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/vi.json",
                "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85",
                1807239,
            ),
            RemoteFile(
                "lareqa/mlqa-r/zh.json",
                f"{LAREQA_REPO}/{_MLQA_COMMIT}/mlqa-r/zh.json",
                "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc",
                1360698,
            ),
        ),
    ),
    "ntrex-128": DatasetInfo(
        "ntrex-128",
        "ntrex-128",
        "NTREX-128: 1,997 news sentences in 128 languages, line-aligned (download: the 11 XQuAD-R languages)",
        "CC BY-SA 4.0",
        (
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.arb.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.arb.txt",
                "d271c8645933421f760eba8ed8cc1ceaaa052f917d9c2839b8abb27e0ded71e6",
                423901,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.deu.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.deu.txt",
                "259d7406a07b63e6b5b9c4a22fb76b85e2578a3fa0a4e541a50f4f7348e5c1b2",
                306436,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.ell.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.ell.txt",
                "cd9c8eda1b54f4b504b33769db7e56e26ba9ae768a64e13e0eef02a9ee9867fc",
                544996,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.spa.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.spa.txt",
                "0ad8129e5ce0bea86ba7e0ea0db0504d6626b8a4d2a7cf4c44b7791c70e99b84",
                299333,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.hin.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.hin.txt",
                "10d612b3960dc1f90d297aff7e3c6d39e6eb7221b912cef0c053d9f510e41bbc",
                674699,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.rus.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.rus.txt",
                "a7e3601298b0368659a5c006c52809cf6792e02eb94bde9b9693333278d85732",
                505414,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.tha.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.tha.txt",
                "45a57c4f9fdbae282eb2c94821535ae3c88b09186a23c5506eb0907ba429d6a5",
                658582,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.tur.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.tur.txt",
                "bd0c3978cb7d283ee5f8834d90a32fe2ffd0c71e4b133c677cff259d07a70ea9",
                293653,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.vie.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.vie.txt",
                "dd5d16cf246da57f5ccb7490ae13b8df428e7cb53e17fa04552406d657abfe3c",
                359879,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-ref.zho-CN.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-ref.zho-CN.txt",
                "8bcd6f0868d33f26c8da12f55a82f66088a7b60a5f7b0b1a99dcec51daa8054a",
                241603,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/NTREX-128/newstest2019-src.eng.txt.gz",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/NTREX-128/newstest2019-src.eng.txt",
                "389e8f5796c66db4f646dfad33e1ec622d74767af5ef112b42a1f2cd814df3cc",
                251739,
                gzip_local=True,
            ),
            RemoteFile(
                "ntrex-128/DOCUMENT_IDS.tsv",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/DOCUMENT_IDS.tsv",
                "88a8b0ff1eae47e83f60dcde01075b8c87d75ced59ca09e0af1eb539958e05d5",
                30754,
            ),
            RemoteFile(
                "ntrex-128/LANGUAGES.tsv",
                f"{NTREX_REPO}/{_NTREX_COMMIT}/LANGUAGES.tsv",
                "06b295e71976aa7adfef358d7c24a91b61212ca7aafb244c199619661f808158",
                1862,
            ),
        ),
    ),
}


def _has_dataset(root: Path, info: DatasetInfo) -> bool:
    folder = root / info.relpath
    return folder.is_dir() and any(folder.iterdir())


def staged_roots() -> list[Path]:
    """``../shared/data`` beside the current directory and beside polyret's source checkout.

    A clone in this workplace (and in CI) sits next to the staged ``shared/data`` folder, so the
    commands find the data without ``$POLYRET_DATA``. The checkout is the folder above ``src/``
    when it holds a ``pyproject.toml`` (an editable install); an installed package has none.
    """
    roots = [Path.cwd().parent / "shared" / "data"]
    checkout = _checkout()
    if checkout is not None:
        roots.append(checkout.parent / "shared" / "data")
    return list(dict.fromkeys(roots))


def _checkout() -> Path | None:
    """The source checkout polyret runs from (an editable install), or None."""
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "pyproject.toml").is_file() else None


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root in force: ``data_dir``, else ``$POLYRET_DATA``, else ``<cache>/data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return cache_dir() / "data"


def locate_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """Return the folder of dataset ``name`` ("xquad-r", "mlqa-r", "ntrex-128").

    An explicit ``data_dir`` or ``$POLYRET_DATA`` must hold the dataset; otherwise polyret's cache
    is used when it holds it, then a staged ``../shared/data`` (:func:`staged_roots`), and last
    a download of the public originals into the cache when ``download`` is true.
    """
    info = DATASETS.get(name)
    if info is None:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}, or a folder path")
    explicit = data_dir is not None or bool(os.environ.get(DATA_ENV))
    root = data_root(data_dir)
    if _has_dataset(root, info):
        return root / info.relpath
    where = "--data-dir" if data_dir is not None else f"${DATA_ENV}"
    if explicit:
        raise DataError(
            f"{name} not found: expected {root / info.relpath}/ (set by {where}); point it at a folder "
            f"laid out like shared/data ({info.relpath}/...)",
            path=root,
        )
    for staged in staged_roots():
        if _has_dataset(staged, info):
            logger.info("%s: using the staged folder %s", name, staged / info.relpath)
            return staged / info.relpath
    if not download:
        raise DataError(
            f"{name} is not in the cache ({root / info.relpath}) and downloading is off"
        )
    download_dataset(name, root)
    return root / info.relpath


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def download_dataset(name: str, root: Path) -> Path:
    """Download every file of ``name`` into ``root``, verifying sha256; atomic per dataset folder."""
    info = DATASETS[name]
    target = root / info.relpath
    logger.info("downloading %s (%d files) into %s", name, len(info.files), target)
    with atomic_path(target) as tmp:
        for remote in info.files:
            try:
                payload = _fetch(remote.url)
            except (urllib.error.URLError, OSError) as exc:
                raise DataError(
                    f"{name} is not available locally and the download of {remote.url} failed ({exc}). "
                    f"Offline, set ${DATA_ENV} (or --data-dir) to a folder holding {info.relpath}/, "
                    f"e.g. the staged shared/data folder"
                ) from None
            digest = hashlib.sha256(payload).hexdigest()
            if digest != remote.sha256:
                raise DataError(
                    f"checksum mismatch for {remote.url}: sha256 {digest}, expected {remote.sha256}",
                    path=remote.relpath,
                )
            dest = tmp / Path(remote.relpath).relative_to(info.relpath)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(gzip.compress(payload, mtime=0) if remote.gzip_local else payload)
    return target
