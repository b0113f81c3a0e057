"""Run an experiment: evaluate the base model, train and evaluate every strategy x seed, report.

Every step is cached on disk under ``output_dir``: ``runs/<strategy>-seed<k>/`` (a training
run; resumed from its last checkpoint when it was killed) and ``evals/<name>/`` (an
evaluation, written atomically). Rerunning skips what is finished.

With ``report_dir``, every finished evaluation is also copied to ``report_dir/evals/<name>/``
(compressed per-query ranks, a few hundred kB): commit them, and a fresh machine counts them as
done and only trains and evaluates what is missing. Weights are kept as ``keep_weights`` says.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import platform
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret import __version__
from polyret.errors import ConfigError
from polyret.evaluation.results import LareqaResult
from polyret.evaluation.store import DONE_FILE, is_saved, load_result
from polyret.experiment.config import ExperimentConfig, KeepWeights, StrategySpec
from polyret.experiment.report import Curves, OutOfDomain, WithContext, write_report
from polyret.experiment.stats import Centered
from polyret.io import atomic_path, check_output_dir, write_json, write_text
from polyret.training.snapshots import snapshot_callback, snapshot_dir

if TYPE_CHECKING:
    from polyret.data.lareqa import LareqaDataset
    from polyret.debias import Calibration
    from polyret.evaluation.tasks import EvalTask

logger = logging.getLogger(__name__)

CONFIG_FILE = "experiment.yaml"


def hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    import os

    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _committed(config: ExperimentConfig) -> Path | None:
    """``report_dir/evals``: where finished evaluations are published (None without report_dir)."""
    return None if config.report_dir is None else Path(config.report_dir) / "evals"


def _restore_committed(config: ExperimentConfig) -> None:
    """Copy committed evaluations (and the config they were made with) into a fresh output_dir."""
    committed = _committed(config)
    if committed is None or not committed.is_dir():
        return
    out = Path(config.output_dir)
    saved_config = Path(config.report_dir or "") / CONFIG_FILE
    has_evals = any(is_saved(folder) for folder in committed.iterdir())
    # The config the committed evaluations were made with (a report alone binds nothing).
    if has_evals and saved_config.is_file() and not (out / CONFIG_FILE).is_file():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(saved_config, out / CONFIG_FILE)
    for folder in sorted(committed.iterdir()):
        target = out / "evals" / folder.name
        if is_saved(folder) and not is_saved(target):
            logger.info("%s: restored from the committed %s", target, folder)
            with atomic_path(target) as tmp:
                shutil.copytree(folder, tmp)


def _publish(config: ExperimentConfig, folder: Path) -> None:
    """Copy a finished evaluation to ``report_dir/evals`` (atomically), once."""
    committed = _committed(config)
    if committed is None or not is_saved(folder) or is_saved(committed / folder.name):
        return
    committed.mkdir(parents=True, exist_ok=True)
    logger.debug("publishing %s -> %s", folder, committed / folder.name)
    with atomic_path(committed / folder.name) as tmp:
        shutil.copytree(folder, tmp)


def _previous_meta(config: ExperimentConfig) -> dict[str, Any]:
    """How the published report's run was made (its ``summary.json`` meta), or nothing."""
    folders = [Path(config.report_dir)] if config.report_dir else []
    for folder in [*folders, Path(config.output_dir) / "report"]:
        path = folder / "summary.json"
        if path.is_file():
            try:
                meta = json.loads(path.read_text(encoding="utf-8")).get("meta")
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict):
                return meta
    return {}


def _prune_weights(config: ExperimentConfig, run_dir: Path) -> None:
    """Delete what ``keep_weights`` does not keep of an evaluated run."""
    if config.keep_weights is KeepWeights.ALL or not run_dir.is_dir():
        return
    doomed = sorted(run_dir.glob("checkpoint-*")) + sorted(run_dir.glob("steps-*"))
    if config.keep_weights is KeepWeights.NONE:
        doomed.append(run_dir / "final")
    for path in doomed:
        if path.exists():
            shutil.rmtree(path)
            logger.info(
                "deleted %s (keep_weights: %s)", path, KeepWeights(config.keep_weights).value
            )


def _trained(spec: dict[str, Any]) -> dict[str, Any]:
    """A saved strategy's options that its runs depend on: all but its Holm ``family``, which is
    analysis (moving a strategy to another family keeps its runs)."""
    return {k: v for k, v in spec.items() if k != "family"}


def _check_or_save_config(config: ExperimentConfig) -> None:
    import yaml

    path = Path(config.output_dir) / CONFIG_FILE
    current = config.to_dict()
    if path.is_file():
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
        # Before the precision option, experiments trained and evaluated in fp32 on CPU.
        if isinstance(saved, dict) and "precision" not in saved:
            saved["precision"] = "fp32"
        # Fill in options added since it was written, so that only real changes differ.
        with contextlib.suppress(ConfigError, TypeError, AttributeError):
            saved = ExperimentConfig.from_dict(saved, source=str(path)).to_dict()
        # Adding strategies or seeds is fine (runs are cached by name); changing shared settings
        # is not. Centering is checked against the centered evaluations (_check_centering).
        for key in ("base_model", "train", "eval", "data_dir", "precision"):
            if saved.get(key) != current.get(key):
                raise ConfigError(
                    f"{path}: this output_dir holds an experiment with a different {key!r}; "
                    "use another output_dir, or delete the old one"
                )
        known = {s["name"]: _trained(s) for s in saved.get("strategies", [])}
        for spec in current["strategies"]:
            if spec["name"] in known and known[spec["name"]] != _trained(spec):
                raise ConfigError(
                    f"{path}: strategy {spec['name']!r} changed since its runs were made"
                )
    write_text(path, yaml.safe_dump(current, sort_keys=False, allow_unicode=True))


DATA_FILE = "data.json"
PART = {"train": "training", "eval": "evaluation"}


def data_fingerprint(config: ExperimentConfig, dataset: LareqaDataset) -> dict[str, Any]:
    """sha256 of the training files (every ``<lang>.json`` of the train dataset) and of the
    evaluated ones, by dataset folder and file name."""
    from polyret.data.lareqa import resolve_lareqa_folder
    from polyret.io import sha256_file

    folder = resolve_lareqa_folder(config.train.get("dataset", "mlqa-r"), config.data_dir)
    train = {f"{folder.name}/{p.name}": sha256_file(p) for p in sorted(folder.glob("*.json"))}
    evaluated = {
        f"{d.path.parent.name}/{d.path.name}": d.sha256 for d in dataset.languages.values()
    }
    return {"train": train, "eval": evaluated}


def _check_or_save_data(config: ExperimentConfig, dataset: LareqaDataset) -> None:
    """Refuse to continue an experiment whose training or evaluation files changed since its
    runs and evaluations were made (naming the file); record them for the next call."""
    now = data_fingerprint(config, dataset)
    out = Path(config.output_dir)
    folders = [out, *([Path(config.report_dir)] if config.report_dir else [])]
    for folder in folders:
        path = folder / DATA_FILE
        if not path.is_file():
            continue
        saved = json.loads(path.read_text(encoding="utf-8"))
        for part in ("train", "eval"):
            before, after = saved.get(part, {}), now[part]
            for name in sorted(set(before) | set(after)):
                if name in before and before.get(name) != after.get(name):
                    what = "is gone" if name not in after else "changed"
                    raise ConfigError(
                        f"{path}: the {PART[part]} file {name} {what} since this experiment's runs "
                        "and evaluations were made; restore it, or use another output_dir and "
                        "report_dir for the new data"
                    )
    for folder in folders:  # report_dir's copy is committed with the evaluations
        write_json(folder / DATA_FILE, now)


def _check_centering(config: ExperimentConfig) -> None:
    """Refuse centering settings that differ from those of finished centered evaluations."""
    if config.centering is None:
        return
    want = dataclasses.asdict(config.centering)
    evals = Path(config.output_dir) / "evals"
    for folder in sorted(evals.glob(f"*{config.centering.suffix}")):
        if not is_saved(folder):
            continue
        saved = json.loads((folder / DONE_FILE).read_text(encoding="utf-8")).get("centering", {})
        used = {k: saved.get(k) for k in want}
        if used != want:
            raise ConfigError(
                f"{folder} was centered with {used}, the config now asks for {want}; use another "
                f"output_dir, or delete the centered evaluations (evals/*{config.centering.suffix})"
            )


def centered_folder(folder: Path, config: ExperimentConfig) -> Path | None:
    """Where the centered evaluation of ``folder``'s model goes (None without centering)."""
    if config.centering is None:
        return None
    return folder.with_name(folder.name + config.centering.suffix)


def _evaluated(target: Path, config: ExperimentConfig, *, centered: bool) -> bool:
    """``target`` is saved, and so is its centered twin when ``centered``."""
    twin = centered_folder(target, config) if centered else None
    return is_saved(target) and (twin is None or is_saved(twin))


def curve_folder(folder: Path, steps: int) -> Path:
    """Where the learning-curve evaluation of ``folder``'s run at ``steps`` goes."""
    return folder.with_name(f"{folder.name}~{steps}")


def ood_folder(folder: Path, name: str) -> Path:
    """Where the evaluation of ``folder``'s model on out-of-domain dataset ``name`` goes."""
    return folder.with_name(f"{folder.name}@{name}")


CONTEXT_SUFFIX = "+context"


def context_folder(folder: Path) -> Path:
    """Where the sentence+context scoring of ``folder``'s model goes (``eval.context``)."""
    return folder.with_name(folder.name + CONTEXT_SUFFIX)


def _evaluate(
    model_spec: str,
    dataset: LareqaDataset,
    config: ExperimentConfig,
    folder: Path,
    meta: dict[str, Any],
    calibration: Calibration | None = None,
    queries: Calibration | None = None,
    ood: dict[str, LareqaDataset] | None = None,
    context: bool = False,
) -> None:
    """Evaluate ``model_spec`` into ``folder`` (and each ``ood`` dataset into ``folder@name``);
    with ``calibration``, each also centered into its ``+<method>`` sibling. With ``context``,
    also score ``dataset`` with sentence+context candidates into ``folder+context`` (never
    centered).

    The model is loaded once and centering fitted once. Plain and centered scores of a dataset
    come from one encoding of its texts (encoded again only when centering is added to an
    experiment whose plain evaluation is already saved).
    """
    from polyret.evaluation.lareqa import CandidateText, LareqaEvalConfig
    from polyret.evaluation.ntrex import NtrexEvalConfig
    from polyret.evaluation.tasks import LareqaTask, NtrexTask

    options = LareqaEvalConfig(
        batch_size=config.eval.batch_size,
        candidate_text=config.eval.candidate_text,
        seen_languages=config.eval.seen_languages,
    )
    ood_options = NtrexEvalConfig(
        batch_size=config.eval.batch_size, seen_languages=config.eval.seen_languages
    )
    use_centering = calibration is not None and config.centering is not None
    # (task, folder, max_seq_length (None: the model's own), also centered)
    length = config.eval.max_seq_length
    targets: list[tuple[EvalTask, Path, int | None, bool]] = [
        (LareqaTask(dataset, options), folder, length, use_centering)
    ]
    targets += [
        (NtrexTask(data, ood_options), ood_folder(folder, name), length, use_centering)
        for name, data in (ood or {}).items()
    ]
    if context:
        with_context = dataclasses.replace(
            options, candidate_text=CandidateText.SENTENCE_CONTEXT.value
        )
        targets.append(
            (
                LareqaTask(dataset, with_context),
                context_folder(folder),
                config.eval.context_max_seq_length,
                False,
            )
        )
    if all(_evaluated(f, config, centered=c) for _, f, _, c in targets):
        return
    from polyret.evaluate import Centering, evaluate, save_evaluation
    from polyret.models import load_model
    from polyret.precision import set_precision

    model = load_model(model_spec)
    precision = set_precision(model, config.precision)  # evaluation and centering calibration
    own_max_seq_length = model.max_seq_length
    meta = {**meta, "model": model_spec, "precision": precision}
    centering = None
    if use_centering:
        assert calibration is not None and config.centering is not None
        centering = Centering(
            calibration, config.centering.method, queries, batch_size=config.eval.batch_size
        )
    debiaser = None
    for task, target, max_seq_length, centered in targets:
        if _evaluated(target, config, centered=centered):
            continue
        model.max_seq_length = max_seq_length or own_max_seq_length
        logger.info("evaluating %s on %s -> %s", model_spec, task.name, target)
        twin = centered_folder(target, config) if centered else None
        needs_twin = centering is not None and twin is not None and not is_saved(twin)
        ev = evaluate(
            model,
            task,
            plain=not is_saved(target),
            centering=centering if needs_twin else None,
            debiaser=debiaser,
        )
        if ev.result is not None:
            save_evaluation(target, ev.result, {**meta, "seconds": ev.seconds})
            _publish(config, target)
        if ev.debiased is None:
            continue
        assert twin is not None and calibration is not None and config.centering is not None
        debiaser = ev.debiaser
        record = {
            **dataclasses.asdict(config.centering),
            "calibration_files": calibration.describe(),
            "query_files": None if queries is None else queries.describe(),
        }
        save_evaluation(
            twin,
            ev.debiased,
            {**meta, "centering": record, "seconds_centering": ev.seconds_debiased},
        )
        _publish(config, twin)


def _load(folder: Path, config: ExperimentConfig) -> tuple[LareqaResult, LareqaResult | None]:
    """A finished evaluation and its centered twin (None when centering is off or not done)."""
    centered = centered_folder(folder, config)
    twin = load_result(centered) if centered is not None and is_saved(centered) else None
    return load_result(folder), twin


def _same_seeds(
    plain: dict[str, dict[int, LareqaResult]],
    other: dict[str, dict[int, LareqaResult]],
    what: str,
) -> dict[str, list[LareqaResult]]:
    """``other``'s results of the strategies that have them for every seed ``plain`` has (in
    ``plain``'s seed order); the others are left out with a warning naming ``what`` is missing."""
    runs = {}
    for name, by_seed in plain.items():
        if set(other.get(name, {})) >= set(by_seed):
            runs[name] = [other[name][seed] for seed in by_seed]
        else:
            logger.warning("%s: not every seed is %s yet; those rows are left out", name, what)
    return runs


def _centered(
    base: LareqaResult | None,
    plain: dict[str, dict[int, LareqaResult]],
    twins: dict[str, dict[int, LareqaResult]],
) -> Centered | None:
    """The centered results, for the strategies whose every evaluated seed is centered."""
    if base is None:
        return None
    return Centered(base, _same_seeds(plain, twins, "centered"))


def run_experiment(
    config: ExperimentConfig,
    *,
    report_only: bool = False,
    command: str = "(Python API)",
    only: Collection[str] = (),
) -> Path | None:
    """Run (or continue) ``config`` and write its report; returns the report path.

    ``only``: strategy names or run names (``<strategy>-seed<N>``); only those runs are trained
    and evaluated, in the usual order, and no report is written (returns None): a later
    invocation without ``only`` finds them cached. Holds the lock of ``output_dir``
    (:mod:`polyret.lock`): a second invocation on the same folder stops with one line naming
    this one.
    """
    from polyret.lock import output_lock

    selected = select_runs(config, only) if only else None
    if selected is not None and report_only:
        raise ConfigError("--only trains a part of the experiment; it has no report to rebuild")
    check_output_dir(config.output_dir, may_hold="an experiment")
    if config.report_dir is not None:
        check_output_dir(config.report_dir, flag="--report-dir", may_hold="its report")
    with output_lock(config.output_dir, "one experiment"):
        _remove_leftovers(config)
        return _run_experiment(config, report_only=report_only, command=command, selected=selected)


def select_runs(config: ExperimentConfig, only: Collection[str]) -> set[str]:
    """The run names ``only`` names: a strategy stands for its runs of every seed."""
    runs = {
        spec.name: [config.run_name(spec, seed) for seed in config.seeds]
        for spec in config.strategies
    }
    every = {name for names in runs.values() for name in names}
    unknown = [x for x in only if x not in runs and x not in every]
    if unknown:
        raise ConfigError(
            f"--only {' '.join(unknown)}: not a strategy or run of experiment {config.name!r}; "
            f"strategies: {', '.join(runs)}; runs look like {next(iter(every))}"
        )
    return {name for x in only for name in runs.get(x, [x])}


def _remove_leftovers(config: ExperimentConfig) -> None:
    """Delete what a killed invocation left half-written: the temporary folders of
    :func:`polyret.io.atomic_path` (``.<name>.*.tmp``), never read by anything. Safe under the
    folder's lock: no other invocation is writing them."""
    out = Path(config.output_dir)
    folders = [out, out / "evals", out / "report", *out.glob("runs/*")]
    if config.report_dir is not None:
        folders += [Path(config.report_dir), Path(config.report_dir) / "evals"]
    for folder in folders:
        for leftover in folder.glob(".*.tmp"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
                logger.info("removed %s, left half-written by a killed run", leftover)


@dataclass
class _Plan:
    """What one invocation works on: the evaluation data (full, learning-curve subset and out of
    domain), the centering calibration and the metadata every evaluation records."""

    config: ExperimentConfig
    dataset: LareqaDataset
    curve_data: LareqaDataset
    calibration: Calibration | None
    queries: Calibration | None
    ood: dict[str, LareqaDataset]
    meta: dict[str, Any]

    @property
    def out(self) -> Path:
        return Path(self.config.output_dir)

    def curve_points(self, eval_dir: Path) -> dict[int, Path]:
        """budget -> evaluation folder of the learning curve (the last may be ``eval_dir``)."""
        budgets = self.config.budgets
        points = {n: curve_folder(eval_dir, n) for n in budgets}
        if budgets and self.curve_data is self.dataset:
            points[budgets[-1]] = eval_dir
        return points

    def missing(self, folder: Path) -> list[str]:
        """The names of the final model's evaluations not saved yet (curve points aside)."""
        targets = [folder, *(ood_folder(folder, name) for name in self.ood)]
        if self.calibration is not None:
            twins = [centered_folder(t, self.config) for t in targets]
            targets += [t for t in twins if t is not None]
        if self.config.eval.context:
            targets.append(context_folder(folder))
        return [t.name for t in targets if not is_saved(t)]

    def finished(self, folder: Path) -> bool:
        """The model's evaluations, out-of-domain, centered and curve ones included, are saved."""
        return not self.missing(folder) and all(
            is_saved(f) for f in self.curve_points(folder).values()
        )


def _prepare(config: ExperimentConfig, report_only: bool) -> _Plan:
    """Load and check everything the invocation needs before anything is trained or saved."""
    from polyret.data.lareqa import load_lareqa, resolve_lareqa_folder
    from polyret.precision import resolve_precision

    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    folder = resolve_lareqa_folder(config.eval.dataset, config.data_dir)
    dataset = load_lareqa(folder, config.eval.languages)
    eval_data = f"{dataset.n_questions} questions, {dataset.n_candidates} candidates"
    if config.eval.articles:
        dataset = dataset.select_articles(config.eval.articles)
        eval_data = (
            f"the questions of {config.eval.articles} evenly spaced articles (eval.articles): "
            f"{dataset.n_questions} questions, {dataset.n_candidates} candidates, of {eval_data}"
        )
    calibration = queries = None
    if config.centering is not None and not report_only:
        from polyret.debias import load_calibration

        # Read (and check) the calibration text before anything is saved or run.
        calibration = load_calibration(
            config.centering.calibration,
            languages=dataset.langs,
            sentences=config.centering.sentences,
            data_dir=config.data_dir,
            missing_ok=config.centering.uncentered_ok,
        )
        if config.centering.query_calibration is not None:
            from polyret.debias import load_queries

            queries = load_queries(
                config.centering.query_calibration,
                languages=list(calibration.texts),
                sentences=config.centering.sentences,
                data_dir=config.data_dir,
                evaluated=dataset,
            )
    ood: dict[str, LareqaDataset] = {}
    for name in config.out_of_domain:
        from polyret.evaluation.ntrex import check_held_out, load_ntrex_eval

        ood[name] = load_ntrex_eval(dataset.langs, data_dir=config.data_dir)
        if config.eval.ood_documents:
            ood[name] = ood[name].select_articles(config.eval.ood_documents)
        if calibration is not None:
            check_held_out(calibration, ood[name])
    _restore_committed(config)
    _check_centering(config)
    _check_or_save_config(config)
    _check_or_save_data(config, dataset)
    # Learning curves: the run's snapshots at each budget, scored plain on `curve_data`.
    curve_data = (
        dataset.select_articles(config.eval.curve_articles)
        if config.budgets and config.eval.curve_articles
        else dataset
    )
    meta = {
        "polyret": __version__,
        "dataset": config.eval.dataset,
        "evaluation_data": eval_data,
        "hardware": hardware(),
        "precision": resolve_precision(config.precision),
    }
    return _Plan(config, dataset, curve_data, calibration, queries, ood, meta)


def _train_and_evaluate(plan: _Plan, spec: StrategySpec, seed: int, label: str) -> None:
    """Train one run (or continue it) and score its final model and curve snapshots."""
    from polyret.training.trainer import FINAL_DIR, train

    config = plan.config
    name = config.run_name(spec, seed)
    eval_dir = plan.out / "evals" / name
    train_config = config.train_config(spec, seed)
    run_dir = Path(train_config.output_dir)
    final = run_dir / FINAL_DIR
    points = plan.curve_points(eval_dir)
    if is_saved(eval_dir) and not final.exists():
        missing = plan.missing(eval_dir) + [f.name for f in points.values() if not is_saved(f)]
        raise ConfigError(
            f"{eval_dir} is evaluated, but not yet {', '.join(missing)}, which need the run's "
            f"weights ({final}), and they are gone; restore them, or delete {eval_dir} to "
            "train it again"
        )
    snapshots = {n: snapshot_dir(run_dir, n) for n in config.budgets[:-1]}
    missing = [
        n for n, f in points.items()
        if not is_saved(f) and n in snapshots and not snapshots[n].exists()
    ]  # fmt: skip
    if missing and final.exists():
        raise ConfigError(
            f"{name}: the snapshots at steps {missing} are gone and not "
            f"evaluated; delete {run_dir} (and {eval_dir}) to train it again"
        )
    if not final.exists():
        logger.info("run %s: training %s", label, name)
        resume = (run_dir / "polyret_train_config.yaml").is_file()
        callbacks = [snapshot_callback(run_dir, snapshots)] if snapshots else []
        train(train_config, resume=resume, callbacks=callbacks)
    meta = {**plan.meta, "run": name}
    for n, folder in points.items():
        if folder != eval_dir:
            model_dir = snapshots.get(n, final)
            _evaluate(str(model_dir), plan.curve_data, config, folder, {**meta, "steps": n})
    _evaluate(
        str(final), plan.dataset, config, eval_dir, meta, plan.calibration, plan.queries,
        ood=plan.ood, context=config.eval.context,
    )  # fmt: skip
    _prune_weights(config, run_dir)


@dataclass
class _Collected:
    """The finished evaluations, by strategy and seed, for the report."""

    plain: dict[str, dict[int, LareqaResult]] = field(default_factory=dict)
    twins: dict[str, dict[int, LareqaResult]] = field(default_factory=dict)
    curves: dict[str, dict[int, dict[int, LareqaResult]]] = field(default_factory=dict)
    ood_plain: dict[str, dict[str, dict[int, LareqaResult]]] = field(default_factory=dict)
    ood_twins: dict[str, dict[str, dict[int, LareqaResult]]] = field(default_factory=dict)
    context: dict[str, dict[int, LareqaResult]] = field(default_factory=dict)

    def add(self, plan: _Plan, spec: StrategySpec, seed: int) -> None:
        eval_dir = plan.out / "evals" / plan.config.run_name(spec, seed)
        if not is_saved(eval_dir):
            return
        if plan.config.eval.context and is_saved(context_folder(eval_dir)):
            result = load_result(context_folder(eval_dir))
            self.context.setdefault(spec.name, {})[seed] = result
        for n, folder in plan.curve_points(eval_dir).items():
            if is_saved(folder):
                self.curves.setdefault(spec.name, {}).setdefault(seed, {})[n] = load_result(folder)
        result, twin = _load(eval_dir, plan.config)
        self.plain.setdefault(spec.name, {})[seed] = result
        if twin is not None:
            self.twins.setdefault(spec.name, {})[seed] = twin
        for ood_name in plan.ood:
            target = ood_folder(eval_dir, ood_name)
            if is_saved(target):
                result, twin = _load(target, plan.config)
                self.ood_plain.setdefault(ood_name, {}).setdefault(spec.name, {})[seed] = result
                if twin is not None:
                    by_name = self.ood_twins.setdefault(ood_name, {})
                    by_name.setdefault(spec.name, {})[seed] = twin

    def with_context(self, plan: _Plan, base_dir: Path) -> WithContext | None:
        """The sentence+context scorings (None without ``eval.context`` or the base model's)."""
        target = context_folder(base_dir)
        if not plan.config.eval.context or not is_saved(target):
            return None
        runs = _same_seeds(self.plain, self.context, "scored with sentence+context")
        return WithContext(load_result(target), runs)

    def out_of_domain(self, plan: _Plan, base_dir: Path) -> list[OutOfDomain]:
        found = []
        for name, data in plan.ood.items():
            target = ood_folder(base_dir, name)
            if not is_saved(target):
                continue
            ood_base, ood_base_centered = _load(target, plan.config)
            runs = self.ood_plain.get(name, {})
            found.append(
                OutOfDomain(
                    name,
                    ood_base,
                    {k: list(v.values()) for k, v in runs.items()},
                    _centered(ood_base_centered, runs, self.ood_twins.get(name, {})),
                    data.question_articles(),
                )
            )
        return found


def _run_experiment(
    config: ExperimentConfig, *, report_only: bool, command: str, selected: set[str] | None
) -> Path | None:
    start = time.perf_counter()
    plan = _prepare(config, report_only)
    out, meta = plan.out, plan.meta
    base_dir = out / "evals" / "base"
    if report_only and not is_saved(base_dir):
        raise ConfigError(f"{out}: no finished evaluation yet; run without --report-only first")
    base_curve = curve_folder(base_dir, 0) if plan.curve_data is not plan.dataset else base_dir
    if not report_only:
        _evaluate(
            config.base_model, plan.dataset, config, base_dir, meta, plan.calibration,
            plan.queries, ood=plan.ood, context=config.eval.context,
        )  # fmt: skip
        if config.budgets and base_curve != base_dir:
            _evaluate(config.base_model, plan.curve_data, config, base_curve, meta)
    base, base_centered = _load(base_dir, config)
    collected = _Collected()
    total = len(config.seeds) * len(config.strategies)
    done = 0
    for seed in config.seeds:  # seed-major: a partial experiment already compares every strategy
        for spec in config.strategies:
            done += 1
            name = config.run_name(spec, seed)
            if selected is not None and name not in selected:
                continue
            if not report_only:
                if plan.finished(out / "evals" / name):
                    logger.info("run %d/%d: %s is finished (cached)", done, total, name)
                else:
                    _train_and_evaluate(plan, spec, seed, f"{done}/{total}")
            collected.add(plan, spec, seed)
    if selected is not None:
        logger.info(
            "the %d selected runs are finished; the report waits for a run without --only",
            len(selected),
        )
        return None

    meta.update(
        command=command,
        base_model=config.base_model,
        seeds=", ".join(map(str, config.seeds)),
        train_steps=config.train.get("max_steps", "see experiment.yaml"),
        wall_time_this_invocation_s=round(time.perf_counter() - start, 1),
    )
    if report_only:
        # A rebuilt report describes the run that made its numbers (command, hardware, time),
        # so rebuilding it with unchanged code gives the same file.
        meta.update(_previous_meta(config))
    logger.info("writing the report into %s", out / "report")
    report = write_report(
        config,
        base,
        {name: list(by_seed.values()) for name, by_seed in collected.plain.items()},
        out / "report",
        meta,
        centered=_centered(base_centered, collected.plain, collected.twins),
        articles=plan.dataset.question_articles(),
        out_of_domain=collected.out_of_domain(plan, base_dir),
        curves=Curves(load_result(base_curve), collected.curves) if collected.curves else None,
        context=collected.with_context(plan, base_dir),
    )
    if config.report_dir:
        dest = Path(config.report_dir)
        dest.mkdir(parents=True, exist_ok=True)
        items = [*(out / "report").iterdir(), out / CONFIG_FILE]
        if report_only:  # the published config is the one the runs were made with
            items = [item for item in items if item.name != CONFIG_FILE]
        for item in items:
            with atomic_path(dest / item.name) as tmp:  # each whole, or the old one kept
                shutil.copy2(item, tmp)
    return report
