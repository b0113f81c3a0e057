"""One evaluation path for ``polyret eval`` and the experiment runner: a task's texts are encoded
once and scored as they are and, with centering, again debiased. The tasks (:class:`Task`) are
LAReQA and NTREX-128 (:mod:`polyret.evaluation.tasks`), saved in one format
(:func:`save_evaluation`), and the MIRACL / BEIR corpora (:class:`polyret.corpus.CorpusTask`),
which search encoded shards and save TREC measures. :class:`EvalOptions` is ``polyret eval``'s
typed config: each field a YAML key of ``polyret eval --config FILE`` and a flag
(:mod:`polyret.configfile`); plain values, so that ``polyret eval --help`` loads no model
library.

Above :mod:`polyret.evaluation` (tasks, scoring, the saved files) and :mod:`polyret.debias`
(fitting the centering), so that neither of the two imports the other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyret.configfile import check_at_least, check_language_codes, internal, option
from polyret.debias.options import Method
from polyret.errors import ConfigError, parse_enum
from polyret.evaluation.store import write_result
from polyret.io import atomic_path
from polyret.models.resolve import DEFAULT_MODEL
from polyret.precision import DEFAULT_PRECISION, PRECISIONS, parse_precision

if TYPE_CHECKING:
    from polyret.debias.calibration import Calibration
    from polyret.debias.debiaser import Debiaser
    from polyret.evaluation.results import LareqaResult

__all__ = [
    "Centering",
    "CenteringOptions",
    "CorpusOptions",
    "EvalOptions",
    "Evaluation",
    "Task",
    "environment",
    "evaluate",
    "save_evaluation",
]
logger = logging.getLogger(__name__)

# The files that save_evaluation(report=True) adds for people, beside the saved result.
REPORT_FILE = "report.md"
RANKS_JSONL = "ranks.jsonl"
PLOTS = {
    "mAP by query and candidate language": "map_heatmap.png",
    "rank distance per query language": "rank_distance.png",
}


@dataclass(frozen=True)
class Centering:
    """Language centering fitted on ``calibration`` (and real ``queries`` for the query
    centroids), by ``method`` (``center`` or ``project``, :class:`polyret.debias.Method`)."""

    calibration: Calibration
    method: Method | str = Method.CENTER
    queries: Calibration | None = None
    batch_size: int = 64

    def describe(self) -> dict[str, Any]:
        return {
            "method": Method(self.method).value,
            "calibration": self.calibration.describe(),
            "queries": None if self.queries is None else self.queries.describe(),
        }


class Task(Protocol):
    """What :func:`evaluate` runs: :class:`polyret.evaluation.tasks.EvalTask` (LAReQA, NTREX-128)
    and :class:`polyret.corpus.CorpusTask` (MIRACL, BEIR)."""

    @property
    def name(self) -> str: ...

    @property
    def languages(self) -> list[str]:
        """The languages evaluated."""
        ...

    def calibration_languages(self) -> list[str]:
        """The languages centering needs calibration text for (an error if it cannot be
        centered)."""
        ...

    def check_calibration(self, calibration: Any) -> None:
        """Refuse calibration text that this task must not be fitted on."""

    def encode(self, model: Any) -> Any:
        """The task's texts encoded with ``model``, once."""

    def debias(self, embeddings: Any, debiaser: Debiaser) -> Any:
        """``embeddings`` (what :meth:`encode` returned) passed through ``debiaser``."""

    def score(self, embeddings: Any) -> Any:
        """Every measure of the task, from ``embeddings`` plain or debiased."""


@dataclass
class Evaluation:
    """What :func:`evaluate` computed. ``result`` is None when the plain score was not asked
    for, ``debiased`` and ``debiaser`` without centering. ``embeddings`` and the results are
    the task's own types (LAReQA: :class:`~polyret.evaluation.lareqa.LareqaEmbeddings` and
    :class:`~polyret.evaluation.results.LareqaResult`)."""

    task: Task
    embeddings: Any
    result: Any
    seconds: float  # encoding and plain scoring
    debiased: Any = None
    debiaser: Debiaser | None = None
    seconds_debiased: float = 0.0  # fitting the centering (unless reused) and scoring


def evaluate(
    model: Any,
    task: Task,
    *,
    plain: bool = True,
    centering: Centering | None = None,
    debiaser: Debiaser | None = None,
) -> Evaluation:
    """Encode ``task``'s texts with ``model`` once; score them (``plain``) and, with
    ``centering``, score them again debiased.

    ``debiaser``: one already fitted with ``model`` (e.g. for a second task) is reused instead of
    fitting ``centering`` again. Calibration text the task must not be fitted on (NTREX-128's
    evaluated sentences) is refused before anything is fitted.
    """
    if centering is not None:
        task.check_calibration(centering.calibration)
    start = time.perf_counter()
    embeddings = task.encode(model)
    result = task.score(embeddings) if plain else None
    evaluation = Evaluation(task, embeddings, result, time.perf_counter() - start)
    if centering is None:
        return evaluation
    start = time.perf_counter()
    if debiaser is None:
        from polyret.debias.fit import fit_centering

        debiaser = fit_centering(
            model,
            centering.calibration,
            method=centering.method,
            queries=centering.queries,
            batch_size=centering.batch_size,
        )
    evaluation.debiased = task.score(task.debias(embeddings, debiaser))
    evaluation.debiaser = debiaser
    evaluation.seconds_debiased = time.perf_counter() - start
    return evaluation


def environment() -> dict[str, Any]:
    """What an encoding's last bits depend on besides the model and the data: library versions,
    torch's thread count (GEMM reductions are split by it) and the CPU. ``results.json`` records
    it, so that a re-evaluation that differs in near ties can be traced
    (``scripts/reevaluate.py``)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    versions = {}
    for package in ("torch", "transformers", "sentence-transformers", "numpy", "faiss-cpu"):
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    return {
        "python": platform.python_version(),
        "versions": versions,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }


def save_evaluation(
    folder: str | Path,
    result: LareqaResult,
    meta: dict[str, Any],
    *,
    report: bool = False,
    extra_files: Callable[[Path], dict[str, Any]] | None = None,
) -> Path:
    """Write ``result`` into ``folder`` atomically, in the one format every evaluation has:
    ``results.json`` (``meta``, every number and the language bias), the per-query ranks
    (``ranks.npz``, ``settings.json.gz``; :func:`polyret.evaluation.store.load_result` reads them
    back) and ``sha256sums``. With ``report``, also what people read: ``report.md``,
    ``ranks.jsonl`` and plots. ``extra_files(folder)`` may write more (TREC runs); what it returns
    is added to results.json. The folder is replaced whole, and appears only when complete."""
    folder = Path(folder)
    record = dict(meta)
    if report:
        record["files"] = {
            "report": REPORT_FILE,
            "ranks": f"{RANKS_JSONL} (per setting: query ids and the rank of every relevant "
            "candidate)",
            "plots": list(PLOTS.values()),
        }
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        if report:
            _write_report_files(tmp, result, meta)
        if extra_files is not None:
            record.update(extra_files(tmp))
        write_result(result, tmp, record)
    return folder


def _write_report_files(folder: Path, result: LareqaResult, meta: dict[str, Any]) -> None:
    from polyret.reports.lareqa import render_lareqa_report
    from polyret.reports.plots import plot_map_heatmap, plot_rank_distance

    model = meta.get("model")
    model = str((model.get("spec") if isinstance(model, dict) else model) or "") or None
    plot_map_heatmap(result, folder / PLOTS["mAP by query and candidate language"], model=model)
    plot_rank_distance(result, folder / PLOTS["rank distance per query language"], model=model)
    with (folder / RANKS_JSONL).open("w", encoding="utf-8") as f:
        for record in result.ranks_records():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    (folder / REPORT_FILE).write_text(
        render_lareqa_report(result, meta, {t: n for t, n in PLOTS.items()}), encoding="utf-8"
    )


CANDIDATE_TEXTS = ("sentence", "sentence+context")  # polyret.evaluation.lareqa.CandidateText
INDEX_KINDS = ("flat", "ivf", "hnsw")  # polyret.corpus.index.IndexKind
VECTOR_DTYPES = ("float16", "float32")  # polyret.corpus.shards.DTYPES


@dataclass
class CorpusOptions:
    """The corpus evaluation (``--dataset miracl`` or ``beir:PATH``)."""

    split: str | None = option("qrels split (default: dev for MIRACL, test for BEIR)", default=None)
    k: int = option("results per query", default=100)
    index: str = option("FAISS index (default: exact flat)", choices=INDEX_KINDS, default="flat")
    dtype: str = option("stored vectors", choices=VECTOR_DTYPES, default="float16")
    shard_size: int = option("documents per encoded shard", default=50_000)
    encode_dir: str | None = option("where encoded shards go (reused)", default=None)
    multilingual_pool: bool = option(
        "also search one pool of all languages' corpora and report language shares",
        default=False,
    )


@dataclass
class CenteringOptions:
    """The model also scored with language centering (``--debias SOURCE``), side by side."""

    debias: str | None = option(
        "also evaluate the model with language centering fitted on SOURCE (a folder of "
        "<lang>.txt or 'ntrex'), side by side, from the same encoding of the evaluation texts",
        default=None,
    )
    debias_method: Method = option("center or project (see polyret debias)", default=Method.CENTER)
    debias_queries: str | None = option(
        "real queries for the query centroids (see polyret debias --query-calibration): a "
        "folder of <lang>.txt or a LAReQA dataset other than the one evaluated",
        default=None,
    )
    debias_sentences: int = option("calibration sentences (and queries) per language", default=300)


@dataclass
class EvalOptions:
    """Everything ``polyret eval`` takes (but ``--config``, ``--print-config``, ``--no-progress``)."""

    dataset: str | None = option(
        "xquad-r, mlqa-r, a folder of <lang>.json files, ntrex (NTREX-128 sentence retrieval on "
        "its evaluation part), or miracl / beir:PATH (corpus evaluation); required",
        default=None,
    )
    model: str = option("model spec: a folder, a hub id or a bundled model", default=DEFAULT_MODEL)
    languages: list[str] | None = option(
        "languages to load (default: every file; ntrex: the 11 XQuAD-R languages)", default=None
    )
    seen_languages: list[str] | None = option(
        "training languages: aggregates are also split into seen / unseen", default=None
    )
    data_dir: str | None = option("data root (default $POLYRET_DATA, then the cache)", default=None)
    output_dir: str | None = option(
        "write results.json, report.md, ranks.jsonl and plots here",
        aliases=("--out",),
        default=None,
    )
    overwrite: bool = option("replace the results in --output-dir if it holds any", default=False)
    articles: int | None = option(
        "a quick evaluation: only the questions of N evenly spaced articles and the sentences of "
        "their paragraphs (every setting still scored)",
        default=None,
    )
    batch_size: int = option("encoding batch size", default=64)
    candidate_text: str = option(
        "encode each candidate sentence alone or followed by its paragraph",
        choices=CANDIDATE_TEXTS,
        default="sentence",
    )
    save_runs: bool = option(
        "also write TREC runs and qrels per setting under --out", default=False
    )
    run_depth: int = option(
        "results per query in the run files (0 = the full pool, which trec_eval's map needs)",
        default=100,
    )
    chunk_size: int = option(
        "queries scored at once (memory ~ N x pool size x 25 bytes)", default=512
    )
    device: str | None = option(
        "torch device (default: sentence-transformers' choice)", default=None
    )
    precision: str = option(
        "encoding precision: auto (bf16 where the CPU or GPU has it natively, else fp32), fp32, "
        "bf16 (autocast; emulated and slow without native support) or fp16 (CUDA only); the "
        "resolved one is written into results.json",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
    )
    corpus: CorpusOptions = field(default_factory=CorpusOptions)
    centering: CenteringOptions = field(default_factory=CenteringOptions)
    show_progress: bool = internal(default=True)  # --no-progress

    def __post_init__(self) -> None:
        if not self.dataset:
            raise ConfigError("--dataset is required (dataset: in a config file)")
        check_language_codes(self.languages, "--languages")
        check_language_codes(self.seen_languages, "--seen-languages")
        check_at_least(self, "batch_size", "chunk_size", "articles")
        if self.run_depth < 0:
            raise ConfigError(
                f"--run-depth must be 0 (full pool) or positive, got {self.run_depth}"
            )
        if self.save_runs and self.output_dir is None:
            raise ConfigError("--save-runs needs --output-dir")
        self.centering.debias_method = parse_enum(
            Method, self.centering.debias_method, "--debias-method"
        )
        if self.centering.debias_queries and not self.centering.debias:
            raise ConfigError("--debias-queries needs --debias SOURCE")
        self.precision = parse_precision(self.precision).value
        for value, choices, flag in (
            (self.candidate_text, CANDIDATE_TEXTS, "--candidate-text"),
            (self.corpus.index, INDEX_KINDS, "--index"),
            (self.corpus.dtype, VECTOR_DTYPES, "--dtype"),
        ):
            if value not in choices:
                raise ConfigError(f"{flag} {value!r}: must be one of {', '.join(choices)}")

    @property
    def out(self) -> Path | None:
        return None if self.output_dir is None else Path(self.output_dir).expanduser()

    @property
    def is_corpus(self) -> bool:
        """MIRACL or a BEIR folder: the sharded corpus evaluator, not the LAReQA one."""
        return self.dataset == "miracl" or str(self.dataset).startswith("beir:")
