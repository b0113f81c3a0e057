from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from lareqa_fixture import write_parallel_lareqa
from polyret.errors import ConfigError, DataError
from polyret.experiment import runner
from polyret.experiment.config import ExperimentConfig


def _config(tmp: Path, model: Path, **over: object) -> ExperimentConfig:
    train_dir = write_parallel_lareqa(tmp / "train", ("en", "de", "es"), articles=8)
    eval_dir = write_parallel_lareqa(tmp / "eval", ("en", "de", "ru"), articles=3)
    values: dict[str, object] = {
        "name": "tiny",
        "output_dir": str(tmp / "exp"),
        "base_model": str(model),
        "train": {
            "dataset": str(train_dir),
            "batch_size": 4,
            "max_steps": 2,
            "dev_fraction": 0.0,
            "exclude_titles": [],
            "device": "cpu",
            "logging_steps": 1,
        },
        "strategies": ["mono", "cross", {"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}],
        "seeds": [1, 2],
        "eval": {
            "dataset": str(eval_dir),
            "seen_languages": ["en", "de", "es"],
            "high_resource": ["en", "de"],
            "batch_size": 64,
        },
        "report_dir": str(tmp / "results"),
    }
    values.update(over)
    return ExperimentConfig.from_dict(values)


def test_experiment_runs_caches_and_reports(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, tiny_model_dir)
    calls: list[str] = []
    from polyret.training import trainer

    original = trainer.train

    def counting_train(cfg, **kw):  # type: ignore[no-untyped-def]
        calls.append(Path(cfg.output_dir).name)
        return original(cfg, **kw)

    monkeypatch.setattr(trainer, "train", counting_train)  # run_experiment imports it at call time
    # Kill the experiment during the evaluation of the 4th run ...
    original_eval = runner._evaluate
    evals: list[str] = []

    def failing_eval(model_spec, dataset, cfg, folder, *rest, **kw):  # type: ignore[no-untyped-def]
        evals.append(folder.name)
        if folder.name == "mono-seed2" and evals.count("mono-seed2") == 1:
            raise KeyboardInterrupt
        return original_eval(model_spec, dataset, cfg, folder, *rest, **kw)

    monkeypatch.setattr(runner, "_evaluate", failing_eval)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(config)
    assert calls == ["mono-seed1", "cross-seed1", "hybrid-0.5-seed1", "mono-seed2"]
    # ... and resume: finished runs are neither retrained nor re-evaluated.
    calls.clear()
    report = runner.run_experiment(config)
    assert calls == ["cross-seed2", "hybrid-0.5-seed2"]
    text = report.read_text()
    for needle in (
        "| base |",
        "| mono |",
        "| cross |",
        "| hybrid-0.5 |",
        "Seen vs unseen",
        "High-resource",
        # the significance tests: their columns, and what they mean in words
        "| diff | 95% CI | SE seeds / questions | p | Holm p |",
        "| hybrid-0.5 | cross | multi | 2 vs 2 |",
        "| hybrid-0.5 | base | mono | 2 vs fixed |",
        "questions clustered by article",
        "The unit is the parallel question",
        "Family: Holm's correction over all 9 tests of this table",
        "Seeds: 2 per strategy",
        "the seed variance limits what can be concluded",
        "after Holm correction",
    ):
        assert needle in text
    assert "Wilcoxon" not in text and "¹" not in text  # every row covers its seeds
    findings = text.split("## What the numbers say")[1]
    assert not re.findall("significant(?! after Holm correction)", findings)
    summary = json.loads((report.parent / "summary.json").read_text())
    assert summary["seeds"] == {"mono": 2, "cross": 2, "hybrid-0.5": 2}
    assert {t["baseline"] for t in summary["significance"]} == {"mono", "cross", "base"}
    assert "Holm" not in summary["significance_method"]  # the method; the family is per report
    for t in summary["significance"]:
        assert t["ci_low"] <= t["diff"] <= t["ci_high"]
        assert t["p"] <= t["p_holm"] <= 1.0
        assert t["n_articles"] == 3 and t["covers_seeds"]
        assert t["b_fixed"] == (t["baseline"] == "base")
    assert (tmp_path / "results" / "tradeoff.png").stat().st_size > 1000
    assert (tmp_path / "results" / "heatmap_best_minus_base.png").is_file()
    # A third invocation does nothing but rebuild the report.
    calls.clear()
    runner.run_experiment(config)
    assert calls == []


def test_changed_shared_settings_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(tmp_path, tiny_model_dir)
    runner._check_or_save_config(config)
    changed = _config(tmp_path, tiny_model_dir)
    changed.train["max_steps"] = 3
    with pytest.raises(ConfigError, match="different 'train'"):
        runner._check_or_save_config(changed)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"strategies": []}, "at least one strategy"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"train": {"alpha": 0.3}}, "set per run"),
        ({"train": {"learning_rte": 1e-5}}, "did you mean 'learning_rate'"),
        ({"evaluation": {}}, "unknown key 'evaluation'"),
        ({"strategies": [{"name": "h", "strategy": "hybrid", "alpha": 2}]}, "alpha=2"),
    ],
)
def test_bad_experiment_configs(
    tmp_path: Path, tiny_model_dir: Path, over: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, tiny_model_dir, **over)


def _calibration_dir(tmp: Path, langs: tuple[str, ...] = ("en", "de", "ru")) -> Path:
    folder = tmp / "calib"
    folder.mkdir(exist_ok=True)
    frames = {
        "en": "The weather in city number {} was sunny and warm today.",
        "de": "Das Wetter in der Stadt Nummer {} war heute sonnig und warm.",
        "ru": "Погода в городе номер {} сегодня была солнечной и тёплой.",
    }
    for lang in langs:
        lines = [frames[lang].format(i) for i in range(12)]
        (folder / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_centering_condition_added_to_a_finished_experiment(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyret.data.lareqa import load_lareqa
    from polyret.debias import fit_centering, load_calibration
    from polyret.evaluation.lareqa import encode_lareqa, evaluate_lareqa_embeddings
    from polyret.evaluation.store import load_result
    from polyret.models import load_model
    from polyret.training import trainer

    over = {"strategies": ["mono", {"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}]}
    runner.run_experiment(_config(tmp_path, tiny_model_dir, seeds=[1], **over))
    calib = _calibration_dir(tmp_path)
    config = _config(
        tmp_path,
        tiny_model_dir,
        seeds=[1],
        centering={"calibration": str(calib), "sentences": 12},
        **over,
    )
    calls: list[str] = []
    monkeypatch.setattr(trainer, "train", lambda cfg, **kw: calls.append(cfg.output_dir))
    report = runner.run_experiment(config)
    assert calls == []  # centering reuses the trained models
    evals = tmp_path / "exp" / "evals"
    assert {p.name for p in evals.iterdir()} == {
        "base", "base+center", "mono-seed1", "mono-seed1+center",
        "hybrid-0.5-seed1", "hybrid-0.5-seed1+center",
    }  # fmt: skip

    # The centered base equals fitting centering by hand on the same model and texts.
    dataset = load_lareqa(tmp_path / "eval")
    model = load_model(str(tiny_model_dir))
    model.max_seq_length = 128
    embeddings = encode_lareqa(model, dataset, batch_size=64)
    debiaser = fit_centering(model, load_calibration(calib, sentences=12), batch_size=64)
    expected = evaluate_lareqa_embeddings(
        dataset, debiaser.transform_lareqa(embeddings), seen_languages=["en", "de", "es"]
    ).summary()
    got = load_result(evals / "base+center").summary()
    for key in ("mono_map", "cross_map", "multi_map", "rank_distance"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    assert got != load_result(evals / "base").summary()

    text = report.read_text()
    assert "## Language centering (center, calibration" in text
    for row in ("| base+center |", "| hybrid-0.5+center |", "| mono+center |"):
        assert row in text
    assert "both − best single" in text and "both − sum" in text
    summary = json.loads((report.parent / "summary.json").read_text())
    pairs = {(t["hybrid"], t["baseline"]): t for t in summary["significance"]}
    assert ("hybrid-0.5+center", "base+center") in pairs
    assert pairs[("hybrid-0.5+center", "hybrid-0.5")]["paired_seeds"]
    # One seed: the report says that seed variance is not covered, and marks the rows.
    assert "One seed per strategy: seed variance cannot be estimated" in text
    assert "| hybrid-0.5+center | hybrid-0.5 | mono | 1 paired ¹ |" in text
    assert "| hybrid-0.5 | mono | cross | 1 vs 1 ¹ |" in text
    assert "with one seed the seed variance is not covered: descriptive" in text
    assert "significant after Holm" not in text.split("## What the numbers say")[1]
    assert summary["table"]["hybrid-0.5+center"]["multi_map"]["mean"] == pytest.approx(
        load_result(evals / "hybrid-0.5-seed1+center").summary()["multi_map"]
    )

    # Changing the centering afterwards is refused; the old centered evaluations would lie.
    changed = _config(
        tmp_path, tiny_model_dir, seeds=[1], centering={"calibration": str(calib), "sentences": 11},
        **over,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="was centered with"):
        runner.run_experiment(changed)

    # A seed whose centered evaluation is missing: its strategy's centered rows are left out
    # rather than comparing different seed sets.
    import shutil

    shutil.rmtree(evals / "hybrid-0.5-seed1+center")
    shutil.rmtree(tmp_path / "results" / "evals" / "hybrid-0.5-seed1+center")  # the committed copy
    text = runner.run_experiment(config, report_only=True).read_text()
    assert "| mono+center |" in text and "| hybrid-0.5+center |" not in text
    # Centering needs the trained model; a deleted one is not silently retrained.
    shutil.rmtree(tmp_path / "exp" / "runs" / "hybrid-0.5-seed1" / "final")
    with pytest.raises(ConfigError, match=r"not yet hybrid-0\.5-seed1\+center, .* are gone"):
        runner.run_experiment(config)
    assert calls == []


def test_experiment_saved_by_an_older_polyret_resumes(tmp_path: Path, tiny_model_dir: Path) -> None:
    import yaml

    config = _config(tmp_path, tiny_model_dir)
    runner._check_or_save_config(config)
    path = tmp_path / "exp" / "experiment.yaml"
    saved = yaml.safe_load(path.read_text())
    del saved["eval"]["articles"], saved["centering"]  # options that did not exist yet
    path.write_text(yaml.safe_dump(saved))
    runner._check_or_save_config(config)  # no "different 'eval'"


def test_centering_missing_calibration_language(tmp_path: Path, tiny_model_dir: Path) -> None:
    calib = _calibration_dir(tmp_path, ("en", "de"))  # the evaluation also has ru
    config = _config(
        tmp_path, tiny_model_dir, centering={"calibration": str(calib), "sentences": 12}
    )
    with pytest.raises((ConfigError, DataError), match="ru"):
        runner.run_experiment(config)
    assert not (tmp_path / "exp" / "evals").exists()  # failed before any evaluation
    assert not (tmp_path / "exp" / "experiment.yaml").exists()  # and before saving the config


def test_bad_centering_and_articles_config(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"centering\.method"):
        _config(tmp_path, tiny_model_dir, centering={"method": "whiten"})
    with pytest.raises(ConfigError, match="unknown option 'sentence'; did you mean 'sentences'"):
        _config(tmp_path, tiny_model_dir, centering={"sentence": 100})
    with pytest.raises(ConfigError, match=r"eval\.articles"):
        _config(tmp_path, tiny_model_dir, eval={"dataset": "x", "articles": 0})


def test_centering_queries_must_not_be_the_evaluated_questions(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    calib = _calibration_dir(tmp_path)
    centering = {"calibration": str(calib), "sentences": 12}
    with pytest.raises(ConfigError, match=r"centering\.query_calibration"):
        _config(tmp_path, tiny_model_dir, centering={**centering, "query_calibration": ""})
    config = _config(
        tmp_path,
        tiny_model_dir,
        centering={**centering, "query_calibration": str(tmp_path / "eval")},
    )
    with pytest.raises(ConfigError, match="the questions being evaluated"):
        runner.run_experiment(config)
    assert not (tmp_path / "exp" / "experiment.yaml").exists()


def test_centered_evaluation_uses_the_query_calibration(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from polyret.data.lareqa import load_lareqa
    from polyret.debias import fit_centering, load_calibration, load_queries
    from polyret.evaluation.lareqa import encode_lareqa, evaluate_lareqa_embeddings
    from polyret.evaluation.store import load_result
    from polyret.models import load_model

    calib = _calibration_dir(tmp_path)
    centering = {"calibration": str(calib), "sentences": 12, "query_calibration": "unused"}
    config = _config(tmp_path, tiny_model_dir, centering=centering)
    dataset = load_lareqa(tmp_path / "eval")
    calibration = load_calibration(calib, languages=dataset.langs, sentences=12)
    queries = load_queries(tmp_path / "train", languages=dataset.langs, sentences=12)
    folder = tmp_path / "exp" / "evals" / "base"
    runner._evaluate(str(tiny_model_dir), dataset, config, folder, {}, calibration, queries)

    model = load_model(str(tiny_model_dir))
    model.max_seq_length = 128
    debiaser = fit_centering(model, calibration, queries=queries, batch_size=64)
    expected = evaluate_lareqa_embeddings(
        dataset,
        debiaser.transform_lareqa(encode_lareqa(model, dataset, batch_size=64)),
        seen_languages=["en", "de", "es"],
    ).summary()
    centered = folder.with_name("base+center")
    got = load_result(centered).summary()
    for key in ("mono_map", "cross_map", "multi_map", "rank_distance"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    meta = json.loads((centered / "results.json").read_text())
    assert meta["centering"]["query_files"]["languages"] == ["de", "en"]


def test_experiment_killed_inside_a_run_of_a_poolerless_model_resumes_exactly(
    tmp_path: Path, tiny_poolerless_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import TrainerCallback

    from polyret.training import trainer

    def config(name: str) -> ExperimentConfig:
        cfg = _config(
            tmp_path / name,
            tiny_poolerless_model_dir,
            strategies=[{"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}],
            seeds=[1],
            report_dir=None,
        )
        cfg.train.update(max_steps=6, save_steps=2, learning_rate=1e-3)
        return cfg

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if state.global_step == 4:
                raise KeyboardInterrupt

    original = trainer.train
    killed = {"done": False}

    def train_once_killed(cfg, **kw):  # type: ignore[no-untyped-def]
        if not killed["done"]:
            killed["done"] = True
            kw["callbacks"] = [*kw.get("callbacks", []), KillAfterSave()]
            return original(cfg, **kw)
        return original(cfg, **kw)

    runner.run_experiment(config("whole"))
    monkeypatch.setattr(trainer, "train", train_once_killed)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(config("killed"))
    run_dir = tmp_path / "killed" / "exp" / "runs" / "hybrid-0.5-seed1"
    assert (run_dir / "checkpoint-4").is_dir() and not (run_dir / "final").exists()
    runner.run_experiment(config("killed"))

    def weights(name: str) -> dict[str, torch.Tensor]:
        final = tmp_path / name / "exp" / "runs" / "hybrid-0.5-seed1" / "final"
        return SentenceTransformer(str(final), device="cpu").state_dict()

    a, b = weights("whole"), weights("killed")
    assert a.keys() == b.keys() and not any("pooler" in k for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    whole = json.loads(
        (tmp_path / "whole" / "exp" / "evals" / "hybrid-0.5-seed1" / "results.json").read_text()
    )
    again = json.loads(
        (tmp_path / "killed" / "exp" / "evals" / "hybrid-0.5-seed1" / "results.json").read_text()
    )
    assert whole["summary"]["multi_map"] == pytest.approx(again["summary"]["multi_map"], abs=1e-6)


def test_committed_evaluations_count_as_done_on_a_fresh_machine(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from polyret.training import trainer

    config = _config(tmp_path, tiny_model_dir, strategies=["mono", "cross"], seeds=[1])
    config.train["save_steps"] = 1
    first = runner.run_experiment(config).read_text()
    run_dir = tmp_path / "exp" / "runs" / "mono-seed1"
    assert (run_dir / "final").is_dir() and not list(run_dir.glob("checkpoint-*"))
    committed = tmp_path / "results" / "evals"
    assert {p.name for p in committed.iterdir()} == {"base", "mono-seed1", "cross-seed1"}
    assert sum(f.stat().st_size for f in committed.rglob("*")) < 200_000
    # A fresh machine: only the committed results/ folder is there.
    shutil.rmtree(tmp_path / "exp")
    calls: list[str] = []
    monkeypatch.setattr(trainer, "train", lambda cfg, **kw: calls.append(cfg.output_dir))
    original_eval = runner._evaluate

    def evaluate(model_spec, dataset, cfg, folder, *rest, **kw):  # type: ignore[no-untyped-def]
        if not runner.is_saved(folder):
            calls.append(f"eval {folder.name}")
        return original_eval(model_spec, dataset, cfg, folder, *rest, **kw)

    monkeypatch.setattr(runner, "_evaluate", evaluate)
    again = runner.run_experiment(config).read_text()
    assert calls == []
    strip = lambda text: [x for x in text.splitlines() if "wall" not in x.lower()]  # noqa: E731
    assert strip(again) == strip(first)


def test_keep_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(tmp_path, tiny_model_dir, strategies=["mono"], seeds=[1], keep_weights="none")
    runner.run_experiment(config)
    assert not (tmp_path / "exp" / "runs" / "mono-seed1" / "final").exists()
    with pytest.raises(ConfigError, match="keep_weights"):
        _config(tmp_path, tiny_model_dir, keep_weights="some")


def test_out_of_domain_dataset_is_scored_for_every_model(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ntrex_fixture import write_ntrex
    from polyret.evaluation import ntrex

    docs = [f"doc.{d}" for d in "ccckkkllaaabbb"]  # c, k, l: evaluation; a, b: calibration
    codes = {"en": "src.eng", "de": "deu", "ru": "rus"}
    write_ntrex(
        tmp_path / "data",
        {
            code: [f"{lang} news sentence {i}" for i in range(len(docs))]
            for lang, code in codes.items()
        },
        docs,
    )
    config = _config(
        tmp_path,
        tiny_model_dir,
        strategies=["mono", {"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}],
        seeds=[1, 2],
        data_dir=str(tmp_path / "data"),
        out_of_domain=["ntrex"],
        centering={"calibration": str(_calibration_dir(tmp_path)), "sentences": 12},
    )
    encoded: list[str] = []
    original = ntrex.NtrexEvalConfig.encode
    monkeypatch.setattr(
        ntrex.NtrexEvalConfig,
        "encode",
        lambda self, model, data: encoded.append("ntrex") or original(self, model, data),
    )
    report = runner.run_experiment(config)
    evals = {p.name for p in (tmp_path / "exp" / "evals").iterdir()}
    for model in ("base", "mono-seed1", "hybrid-0.5-seed2"):
        assert {f"{model}@ntrex", f"{model}@ntrex+center"} <= evals
    assert len(encoded) == 5, "one encoding per model for plain and centered scores"
    text = report.read_text()
    assert "## Out of domain: ntrex (3 languages)" in text
    assert "### Significance tests on ntrex (a family of its own)" in text
    assert "questions clustered by document" in text
    for row in ("| base |", "| hybrid-0.5 |", "| base+center |", "| hybrid-0.5+center |"):
        assert text.split("## Out of domain")[1].count(row) >= 1
    summary = json.loads((report.parent / "summary.json").read_text())
    tests = summary["out_of_domain"]["ntrex"]["significance"]
    assert {t["kind"] for t in tests} == {"cross", "multi"}
    assert {(t["hybrid"], t["baseline"]) for t in tests} >= {
        ("hybrid-0.5", "mono"), ("hybrid-0.5", "base"), ("hybrid-0.5+center", "base+center"),
    }  # fmt: skip
    # Calibration text that holds evaluated NTREX sentences is refused before anything runs.
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    for lang in ("en", "de", "ru"):
        (leaky / f"{lang}.txt").write_text(f"{lang} news sentence 0\n" * 12)
    config.centering.calibration = str(leaky)
    with pytest.raises(ConfigError, match="evaluated NTREX-128 sentences"):
        runner.run_experiment(config)


def test_learning_curves(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(tmp_path, tiny_model_dir, strategies=["mono", "cross"], seeds=[1, 2])
    config.train["max_steps"] = 4
    config = ExperimentConfig.from_dict(
        {
            **config.to_dict(),
            "budgets": [1, 3, 4],
            "eval": {**config.to_dict()["eval"], "curve_articles": 2},
        }
    )
    report = runner.run_experiment(config)
    evals = {p.name for p in (tmp_path / "exp" / "evals").iterdir()}
    assert {
        "base",
        "base~0",
        "mono-seed1~1",
        "mono-seed1~3",
        "mono-seed1~4",
        "cross-seed2~4",
    } <= evals
    run_dir = tmp_path / "exp" / "runs" / "mono-seed1"
    assert not list(run_dir.glob("steps-*")), "snapshots are deleted once evaluated"
    text = report.read_text()
    assert "## Learning curves" in text and "![learning curves](curves.png)" in text
    assert "| mono | 3 | 2 |" in text and "- multi: 1: " in text
    assert (report.parent / "curves.png").stat().st_size > 1000
    # The curve's last point is the final model: scored on the curve subset it equals scoring
    # the final model there by hand.
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.lareqa import LareqaEvalConfig
    from polyret.evaluation.store import load_result
    from polyret.models import load_model

    data = load_lareqa(tmp_path / "eval").select_articles(2)
    model = load_model(str(run_dir / "final"))
    model.max_seq_length = 128
    # At the experiment's precision (auto: bf16 on CPUs that have it), as the runner scored it.
    options = LareqaEvalConfig(
        batch_size=64, seen_languages=["en", "de", "es"], precision=config.precision
    )
    expected = options.score(data, options.encode(model, data)).summary()
    got = load_result(tmp_path / "exp" / "evals" / "mono-seed1~4").summary()
    assert got["multi_map"] == pytest.approx(expected["multi_map"], abs=1e-6)
    assert got != load_result(tmp_path / "exp" / "evals" / "mono-seed1~1").summary()
    with pytest.raises(ConfigError, match="last budget"):
        ExperimentConfig.from_dict({**config.to_dict(), "budgets": [1, 3]})


def test_precision_applies_to_training_and_evaluation(tmp_path: Path, tiny_model_dir: Path) -> None:
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.store import DONE_FILE

    config = _config(tmp_path, tiny_model_dir, precision="bf16")
    assert config.train_config(config.strategies[0], 1).precision == "bf16"
    assert _config(tmp_path, tiny_model_dir).precision == "auto"  # the default
    with pytest.raises(ConfigError, match="top level"):
        _config(tmp_path, tiny_model_dir, train={"precision": "fp32"})
    with pytest.raises(ConfigError, match="precision='fp8': must be one of"):
        _config(tmp_path, tiny_model_dir, precision="fp8")
    # the resolved precision is recorded with every evaluation
    folder = tmp_path / "exp" / "evals" / "base"
    dataset = load_lareqa(config.eval.dataset)
    runner._evaluate(str(tiny_model_dir), dataset, config, folder, {"polyret": "test"})
    assert json.loads((folder / DONE_FILE).read_text())["precision"] == "bf16"
    # and an experiment's output_dir keeps its precision
    runner._check_or_save_config(config)
    changed = _config(tmp_path, tiny_model_dir, precision="fp32")
    with pytest.raises(ConfigError, match="different 'precision'"):
        runner._check_or_save_config(changed)


def test_a_truncated_committed_evaluation_is_evaluated_again(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from polyret.evaluation import store

    config = _config(tmp_path, tiny_model_dir, strategies=["mono"], seeds=[1])
    first = runner.run_experiment(config).read_text()
    committed = tmp_path / "results" / "evals" / "mono-seed1"
    cached = tmp_path / "exp" / "evals" / "mono-seed1"
    for folder in (committed, cached):  # a bad merge, and the copy it was restored into
        ranks = (folder / store.RANKS_FILE).read_bytes()
        (folder / store.RANKS_FILE).write_bytes(ranks[: len(ranks) // 3])
    with caplog.at_level(logging.WARNING):
        again = runner.run_experiment(config).read_text()
    assert "evaluated again" in caplog.text and "mono-seed1" in caplog.text
    assert store.is_saved(committed) and store.is_saved(cached)
    strip = lambda text: [x for x in text.splitlines() if "wall" not in x.lower()]  # noqa: E731
    assert strip(again) == strip(first)


def test_an_experiment_refuses_changed_data_naming_the_file(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = _config(tmp_path, tiny_model_dir, strategies=["mono"], seeds=[1])
    runner.run_experiment(config)
    assert (tmp_path / "results" / runner.DATA_FILE).is_file()  # published with the evals
    data = tmp_path / "train" / "de.json"
    data.write_text(data.read_text(encoding="utf-8").replace("Fluss", "Strom"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"the training file train/de.json changed"):
        runner.run_experiment(config)


def test_a_half_written_report_is_replaced_and_leftovers_removed(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = _config(tmp_path, tiny_model_dir, strategies=["mono"], seeds=[1])
    first = runner.run_experiment(config).read_text()
    results = tmp_path / "results"
    # What a kill leaves: atomic_path's temporary folders, and (from a bad copy) a cut report.
    leftovers = [
        results / ".report.md.kill1.tmp",
        results / "evals" / ".mono-seed1.kill2.tmp",
        tmp_path / "exp" / "runs" / "mono-seed1" / ".final.kill3.tmp",
    ]
    for leftover in leftovers:
        leftover.mkdir(parents=True)
        (leftover / "partial").write_text("half")
    (results / "report.md").write_text(first[: len(first) // 2])
    runner.run_experiment(config)
    assert not any(p.exists() for p in leftovers)
    strip = lambda text: [x for x in text.splitlines() if "wall" not in x.lower()]  # noqa: E731
    assert strip((results / "report.md").read_text()) == strip(first)


def test_a_strategy_may_move_to_another_holm_family_but_not_change_its_training(
    tmp_path: Path,
) -> None:
    """Runs are cached by strategy name: a new ``family`` (analysis only) keeps them, a changed
    training option is refused."""
    from polyret.errors import ConfigError
    from polyret.experiment.config import ExperimentConfig
    from polyret.experiment.runner import _check_or_save_config

    def experiment(spec: dict) -> ExperimentConfig:
        values = {"name": "x", "output_dir": str(tmp_path / "runs"), "strategies": ["mono", spec]}
        return ExperimentConfig.from_dict(values)

    (tmp_path / "runs").mkdir()
    spec = {"name": "h", "strategy": "hybrid", "alpha": 0.25}
    _check_or_save_config(experiment(spec))
    _check_or_save_config(experiment({**spec, "family": "alpha-sweep"}))
    with pytest.raises(ConfigError, match="strategy 'h' changed since its runs were made"):
        _check_or_save_config(experiment({**spec, "alpha": 0.3, "family": "alpha-sweep"}))


def test_only_runs_the_named_runs_and_writes_no_report(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import yaml

    from polyret.cli.main import main
    from polyret.training import trainer

    config = _config(tmp_path, tiny_model_dir, strategies=["mono", "cross"])
    calls: list[str] = []
    original = trainer.train

    def counting_train(cfg, **kw):  # type: ignore[no-untyped-def]
        calls.append(Path(cfg.output_dir).name)
        return original(cfg, **kw)

    monkeypatch.setattr(trainer, "train", counting_train)
    with pytest.raises(ConfigError, match="--only hybrid: not a strategy or run"):
        runner.run_experiment(config, only=["hybrid"])
    # A strategy stands for its seeds; the usual (seed-major) order is kept.
    assert runner.run_experiment(config, only=["cross", "mono-seed2"]) is None
    assert calls == ["cross-seed1", "mono-seed2", "cross-seed2"]
    assert not (tmp_path / "results" / "report.md").exists()
    assert not (tmp_path / "exp" / "report").exists()
    # From the command line: the finished runs are cached, and no report is written.
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    calls.clear()
    assert (
        main(["experiment", "--config", str(path), "--only", "cross-seed1", "--no-progress"]) == 0
    )
    assert calls == [] and "(no report: --only)" in capsys.readouterr().out
    report = runner.run_experiment(config)
    assert calls == ["mono-seed1"] and report is not None and report.is_file()


def test_sentence_context_scoring_of_every_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation.lareqa import LareqaEvalConfig
    from polyret.evaluation.store import load_result
    from polyret.models import load_model

    config = _config(
        tmp_path,
        tiny_model_dir,
        strategies=["mono", {"name": "hybrid-0.5", "strategy": "hybrid", "alpha": 0.5}],
        seeds=[1, 2],
        centering={"calibration": str(_calibration_dir(tmp_path)), "sentences": 12},
    )
    config.eval.context = True
    config.eval.max_seq_length = 8  # the sentence scoring truncates; the context one must not
    report = runner.run_experiment(config)
    evals = tmp_path / "exp" / "evals"
    names = {p.name for p in evals.iterdir()}
    for model in ("base", "mono-seed1", "hybrid-0.5-seed2"):
        assert {model, f"{model}+center", f"{model}+context"} <= names
    assert not [n for n in names if n.endswith("+context+center")], "never centered"
    assert (tmp_path / "results" / "evals" / "hybrid-0.5-seed1+context").is_dir()  # published
    # It is polyret eval --candidate-text sentence+context at the model's own max length.
    data = load_lareqa(tmp_path / "eval")
    model = load_model(str(tmp_path / "exp" / "runs" / "mono-seed2" / "final"))
    options = LareqaEvalConfig(
        batch_size=64,
        candidate_text="sentence+context",
        seen_languages=["en", "de", "es"],
        precision=config.precision,
    )
    expected = options.score(data, options.encode(model, data)).summary()
    saved = load_result(evals / "mono-seed2+context")
    assert saved.candidate_text == "sentence+context"
    assert saved.summary()["multi_map"] == pytest.approx(expected["multi_map"], abs=1e-6)
    # ... and the sentence scoring beside it still truncates at eval.max_seq_length.
    model.max_seq_length = 8
    plain = dataclasses.replace(options, candidate_text="sentence")
    expected = plain.score(data, plain.encode(model, data)).summary()
    got = load_result(evals / "mono-seed2").summary()
    assert got["multi_map"] == pytest.approx(expected["multi_map"], abs=1e-6)
    text = report.read_text()
    section = text.split("## With each candidate's paragraph (sentence+context)")[1]
    assert "| base |" in section and "| hybrid-0.5 |" in section
    assert "### Significance tests with sentence+context candidates" in section
    assert "| hybrid-0.5 | mono | multi | 2 vs 2 |" in section
    summary = json.loads((report.parent / "summary.json").read_text())
    tests = summary["sentence_context"]["significance"]
    assert {(t["hybrid"], t["baseline"]) for t in tests} == {
        ("hybrid-0.5", "mono"),
        ("hybrid-0.5", "base"),
    }
    assert summary["sentence_context"]["seeds"] == {"mono": 2, "hybrid-0.5": 2}
    # A strategy with a seed not scored this way is left out of that table, not averaged over
    # fewer seeds; a run whose sentence+context scoring is missing and whose model is gone is
    # named, not silently retrained.
    import shutil

    shutil.rmtree(evals / "mono-seed1+context")
    shutil.rmtree(tmp_path / "results" / "evals" / "mono-seed1+context")
    text = runner.run_experiment(config, report_only=True).read_text()
    section = text.split("## With each candidate's paragraph (sentence+context)")[1]
    table = section.split("###")[0]
    assert "\n| hybrid-0.5 |" in table and "\n| mono |" not in table
    assert "\n| mono |" in text.split("## With each")[0]
    shutil.rmtree(tmp_path / "exp" / "runs" / "mono-seed1" / "final")
    with pytest.raises(ConfigError, match=r"not yet mono-seed1\+context, .* are gone"):
        runner.run_experiment(config)


def test_sentence_context_scoring_config() -> None:
    from polyret.experiment.config import EvalSpec

    with pytest.raises(ConfigError, match="already has it"):
        EvalSpec(candidate_text="sentence+context", context=True)
    with pytest.raises(ConfigError, match="context_max_seq_length"):
        EvalSpec(context=True, context_max_seq_length=0)
    with pytest.raises(ConfigError, match=r"eval\.context must be true or false"):
        EvalSpec(context="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"applies only with eval\.context: true"):
        EvalSpec(context_max_seq_length=256)
