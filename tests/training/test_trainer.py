from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer
from transformers import TrainerCallback

from lareqa_fixture import write_parallel_lareqa
from polyret.cli.main import main
from polyret.errors import ConfigError, ModelError
from polyret.models.identity import read_identity
from polyret.samplers import SamplerConfig
from polyret.training.config import TrainConfig
from polyret.training.resume import CONFIG_FILE
from polyret.training.trainer import BATCH_LOG_DIR, FINAL_DIR, SUMMARY_FILE, check_same_run, train


@pytest.fixture(scope="module")
def qa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parallel_lareqa(
        tmp_path_factory.mktemp("qa") / "qa", ("en", "de", "es"), articles=10
    )


def _config(model: Path, data: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        model=str(model),
        dataset=str(data),
        output_dir=str(out),
        batch_size=4,
        max_steps=6,
        learning_rate=1e-3,
        warmup_ratio=0.0,
        dev_fraction=0.2,
        exclude_titles=[],
        logging_steps=1,
        device="cpu",
        eval_batch_size=32,
        precision="fp32",  # the same numbers on every CPU (auto is bf16 on some)
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["mono", "cross", "hybrid"])
def test_each_strategy_trains_and_saves_a_loadable_model(
    strategy: str, tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    result = train(
        _config(tiny_model_dir, qa_dir, tmp_path / "run", sampler=SamplerConfig(strategy, 0.5))
    )
    assert result.global_step == 6
    model = SentenceTransformer(str(result.final_model), device="cpu")
    assert model.prompts == {"query": "query: ", "document": "passage: "}
    identity = read_identity(result.final_model)  # the run's name, e.g. for mteb
    assert identity is not None and identity["name"] == "polyret/run"
    assert identity["strategy"] == strategy and identity["kind"] == "trained"
    assert model.encode_query(["Which river is number 3?"]).shape == (1, 32)
    kinds = set()
    for line in (tmp_path / "run" / BATCH_LOG_DIR / "epoch-0.jsonl").read_text().splitlines():
        batch = json.loads(line)
        kinds.add(batch["kind"])
        assert (batch["query_lang"] == batch["passage_lang"]) == (batch["kind"] == "mono")
    assert kinds == ({"mono", "cross"} if strategy == "hybrid" else {strategy})
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert summary["finished"] and set(summary["dev_metrics"]) >= {"dev_mono_map", "dev_multi_map"}
    saved = (tmp_path / "run" / CONFIG_FILE).read_text()
    assert f"strategy: {strategy}" in saved


def test_loss_goes_down(tiny_model_dir: Path, qa_dir: Path, tmp_path: Path) -> None:
    result = train(
        _config(
            tiny_model_dir,
            qa_dir,
            tmp_path / "run",
            sampler=SamplerConfig("mono"),
            max_steps=30,
            learning_rate=3e-3,
            dev_fraction=0.0,
        )
    )
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


class _StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return SentenceTransformer(str(path), device="cpu").state_dict()


def test_resume_continues_exactly(tiny_model_dir: Path, qa_dir: Path, tmp_path: Path) -> None:
    full = train(
        _config(
            tiny_model_dir, qa_dir, tmp_path / "full", sampler=SamplerConfig("hybrid"), max_steps=8
        )
    )
    cfg = _config(
        tiny_model_dir, qa_dir, tmp_path / "cut", sampler=SamplerConfig("hybrid"), max_steps=8
    )
    stopped = train(cfg, callbacks=[_StopAt(3)])
    assert stopped.global_step == 3 and not stopped.final_model.exists()
    resumed = train(cfg, resume=True)
    assert resumed.global_step == 8
    a, b = _weights(full.final_model), _weights(resumed.final_model)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_resume_of_a_poolerless_model_continues_exactly(
    tiny_poolerless_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    model_dir = tiny_poolerless_model_dir
    full = train(
        _config(model_dir, qa_dir, tmp_path / "full", sampler=SamplerConfig("hybrid"), max_steps=8)
    )
    cfg = _config(model_dir, qa_dir, tmp_path / "cut", sampler=SamplerConfig("hybrid"), max_steps=8)
    train(cfg, callbacks=[_StopAt(3)])
    checkpoint = tmp_path / "cut" / "checkpoint-3"
    saved = json.loads((checkpoint / "sentence_bert_config.json").read_text())
    assert saved["model_kwargs"] == {"add_pooling_layer": False}
    resumed = train(cfg, resume=True)
    assert resumed.global_step == 8
    a, b = _weights(full.final_model), _weights(resumed.final_model)
    assert a.keys() == b.keys() and not any("pooler" in k for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_a_checkpoint_written_without_the_pooler_setting_is_resumed(
    tiny_poolerless_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_poolerless_model_dir, qa_dir, tmp_path / "run", max_steps=4)
    train(cfg, callbacks=[_StopAt(2)])
    st_config = tmp_path / "run" / "checkpoint-2" / "sentence_bert_config.json"
    saved = json.loads(st_config.read_text())
    del saved["model_kwargs"]  # as polyret wrote checkpoints before it remembered the setting
    st_config.write_text(json.dumps(saved))
    assert train(cfg, resume=True).global_step == 4
    assert json.loads(st_config.read_text())["model_kwargs"] == {"add_pooling_layer": False}


def test_training_on_cpu_does_not_warn_about_pinned_memory(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    import warnings

    # No device given, as in the quickstart (device="cpu" already turns pinning off).
    config = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=1, device=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config)
    assert not [w for w in caught if "pin_memory" in str(w.message)]


def test_a_finished_run_keeps_one_checkpoint_beside_the_final_model(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    from polyret.models.save import save_model

    # A base model with a name of its own (as the converted bundled model has).
    base = save_model(SentenceTransformer(str(tiny_model_dir)), tmp_path / "base", name="polyret/b")
    result = train(_config(base, qa_dir, tmp_path / "run", max_steps=3, save_steps=1))
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == ["checkpoint-3"]
    assert result.final_model.is_dir()
    # Checkpoint and final model cards are titled with the run's name, not the base model's.
    for folder in (tmp_path / "run" / "checkpoint-3", result.final_model):
        assert (folder / "README.md").read_text().count("# polyret/run\n") == 1, folder


def test_saved_poolerless_models_reload_without_a_pooler(
    tiny_poolerless_model_dir: Path, qa_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = train(
        _config(tiny_poolerless_model_dir, qa_dir, tmp_path / "run", max_steps=2, save_steps=1)
    )
    for folder in (result.final_model, tmp_path / "run" / "checkpoint-2"):
        with caplog.at_level("WARNING"):
            model = SentenceTransformer(str(folder), device="cpu")
        assert model[0].auto_model.pooler is None, folder
        assert "MISSING" not in caplog.text and "newly initialized" not in caplog.text


def test_an_unresumable_checkpoint_is_one_clear_error(
    tiny_model_dir: Path,
    tiny_poolerless_model_dir: Path,
    qa_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    train(_config(tiny_model_dir, qa_dir, out, max_steps=4), callbacks=[_StopAt(2)])
    # A checkpoint of the pooled model, resumed with the pooler-less one: the weights differ.
    saved = out / CONFIG_FILE
    saved.write_text(saved.read_text().replace(str(tiny_model_dir), str(tiny_poolerless_model_dir)))
    argv = ["train", "--config", str(saved), "--resume"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("polyret train: error:") and "checkpoint-2" in err and "pooler" in err
    # A checkpoint cut off while being written is skipped, not resumed from.
    (out / "checkpoint-3").mkdir()
    (out / "checkpoint-3" / "model.safetensors").write_bytes(b"")
    assert main(argv) == 2
    assert "checkpoint-2" in capsys.readouterr().err


def _steps_per_epoch(cfg: TrainConfig) -> int:
    from polyret.samplers import BatchPlanner
    from polyret.training.data import load_training_data

    meta = load_training_data(cfg).train.metadata()
    sampler = dataclasses.replace(cfg.sampler, world_size=1, seed=cfg.seed)
    return BatchPlanner(meta, sampler, cfg.batch_size).counts.steps


@pytest.mark.parametrize(
    "options",
    [
        {"sampler": SamplerConfig("mono")},
        {"sampler": SamplerConfig("mixed")},
        {
            "sampler": SamplerConfig("hybrid", 0.3, mixed_share=0.4),
            "hard_negatives": 1,
            "batch_size": 4,  # negatives link the questions of a paragraph: fewer groups
        },
        {
            "sampler": SamplerConfig("hybrid", 0.5, align_share=0.25),
            "hard_negatives": 1,
            "batch_size": 4,
        },
    ],
    ids=["mono", "mixed", "three-way+negatives", "alignment+negatives"],
)
def test_resume_across_an_epoch_boundary_continues_exactly(
    options: dict, tiny_poolerless_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    def cfg(name: str, max_steps: int = 1) -> TrainConfig:
        return _config(
            tiny_poolerless_model_dir, qa_dir, tmp_path / name, **{"batch_size": 8, **options},
            max_steps=max_steps, dev_fraction=0.0,
        )  # fmt: skip

    per_epoch = _steps_per_epoch(cfg("probe"))
    total = per_epoch + 3
    full = train(cfg("full", total))
    train(cfg("cut", total), callbacks=[_StopAt(per_epoch + 1)])
    resumed = train(cfg("cut", total), resume=True)
    assert resumed.global_step == full.global_step == total
    a, b = _weights(full.final_model), _weights(resumed.final_model)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    logs = [tmp_path / "cut" / BATCH_LOG_DIR / f"epoch-{e}.jsonl" for e in (0, 1)]
    assert logs[0].read_text() != logs[1].read_text()
    assert logs[1].read_text() == (tmp_path / "full" / BATCH_LOG_DIR / "epoch-1.jsonl").read_text()


def test_resume_refuses_a_changed_config(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=2)
    train(cfg, callbacks=[_StopAt(1)])
    changed = _config(
        tiny_model_dir, qa_dir, tmp_path / "run", max_steps=2, sampler=SamplerConfig(alpha=0.25)
    )
    with pytest.raises(ConfigError, match="alpha"):
        train(changed, resume=True)
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg)
    # What scripts that reuse finished runs check: the same refusal, without training.
    check_same_run(tmp_path / "run", cfg)
    with pytest.raises(ConfigError, match=r"alpha: 0\.5 -> 0\.25"):
        check_same_run(tmp_path / "run", changed)


def test_resume_accepts_a_run_saved_with_flat_sampler_options(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    import yaml

    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=3)
    train(cfg, callbacks=[_StopAt(1)])
    # As polyret wrote it before TrainConfig.sampler: strategy, alpha, pair_weighting flat.
    saved_path = tmp_path / "run" / CONFIG_FILE
    saved = yaml.safe_load(saved_path.read_text())
    flat = {k: v for k, v in saved.items() if k != "sampler"}
    flat.update(saved["sampler"])
    saved_path.write_text(yaml.safe_dump(flat, sort_keys=False))
    changed = _config(
        tiny_model_dir, qa_dir, tmp_path / "run", max_steps=3, sampler=SamplerConfig("mono")
    )
    with pytest.raises(ConfigError, match="strategy: 'hybrid' -> 'mono'"):
        train(changed, resume=True)
    assert train(cfg, resume=True).global_step == 3


def test_bf16_trains_on_cpu_and_is_recorded(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    import yaml

    # Explicit bf16 runs on any CPU (emulated where AVX512-BF16 / AMX are missing).
    result = train(_config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=2, precision="bf16"))
    assert result.global_step == 2
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    fp32 = train(_config(tiny_model_dir, qa_dir, tmp_path / "fp32", max_steps=2))
    fp32_losses = [h["loss"] for h in fp32.log_history if "loss" in h]
    assert losses != fp32_losses  # the forward pass did run in bf16 ...
    assert losses == pytest.approx(fp32_losses, rel=0.05)  # ... and computed the same loss
    text = (tmp_path / "run" / CONFIG_FILE).read_text()
    assert yaml.safe_load(text)["precision"] == "bf16" and "ran as bf16" in text
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert summary["precision"] == "bf16" and summary["dev_metrics"]
    # float32 master weights: the saved model is float32
    assert all(w.dtype == torch.float32 for w in _weights(result.final_model).values())


def test_auto_precision_is_resolved_in_the_saved_config(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    import yaml

    from polyret.precision import resolve_precision

    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=2, precision="auto")
    train(cfg, callbacks=[_StopAt(1)])
    text = (tmp_path / "run" / CONFIG_FILE).read_text()
    resolved = resolve_precision("auto", "cpu")
    assert yaml.safe_load(text)["precision"] == "auto" and f"ran as {resolved}" in text
    sampler = json.loads((tmp_path / "run" / "polyret_sampler.json").read_text())
    assert sampler["precision"] == resolved
    # Resuming at another resolved precision would mix precisions within one run.
    sampler["precision"] = "fp16" if resolved != "fp16" else "fp32"
    (tmp_path / "run" / "polyret_sampler.json").write_text(json.dumps(sampler))
    with pytest.raises(ConfigError, match=f"resume with --precision {sampler['precision']}"):
        train(cfg, resume=True)


def test_precision_flags_train_bf16_on_the_cpu() -> None:
    from polyret.training.trainer import _precision_flags

    assert _precision_flags("bf16", "cpu") == {"fp16": False, "bf16": True, "use_cpu": True}
    assert _precision_flags("fp32", "cpu") == {"fp16": False, "bf16": False, "use_cpu": True}
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        _precision_flags("fp16", "cpu")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--alpha", "1.5"], "alpha=1.5: must lie in [0, 1]"),
        (["--precision", "fp8"], "invalid choice: 'fp8'"),
        (["--languages", "en", "xx"], "xx"),
        (["--batch-size", "64"], "batch"),
        (["--strategy", "zigzag"], "strategy='zigzag'"),
    ],
)
def test_bad_input_fails_before_training(
    flags: list[str],
    message: str,
    tiny_model_dir: Path,
    qa_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        "--model",
        str(tiny_model_dir),
        "--dataset",
        str(qa_dir),
        "--output-dir",
        str(out),
        "--device",
        "cpu",
        *flags,
    ]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusal (choices) exits before main returns
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not any(out.glob("checkpoint-*")) and not (out / "final").exists()


def test_unknown_config_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("strategy: hybrid\nlearnig_rate: 0.1\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown option 'learnig_rate'" in err and "learning_rate" in err


def test_saved_config_reruns(tiny_model_dir: Path, qa_dir: Path, tmp_path: Path) -> None:
    import yaml

    train(_config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=1, dev_fraction=0.0))
    saved = yaml.safe_load((tmp_path / "run" / CONFIG_FILE).read_text())
    assert TrainConfig.from_dict(saved) == _config(
        tiny_model_dir, qa_dir, tmp_path / "run", max_steps=1, dev_fraction=0.0
    )


def test_train_help_shows_each_default_once(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    options = re.split(r"\n  (?=--)", out.split("options:", 1)[1])
    assert len(options) > 30
    for option in options:
        assert option.count("default") <= 1, option
    assert "(default: None)" not in out
    assert "(default: bundled:multilingual-e5-small)" in out


def test_build_then_run(tiny_model_dir: Path, qa_dir: Path, tmp_path: Path) -> None:
    from polyret.training import build_trainer, run_training

    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=2, dev_fraction=0.0)
    run = build_trainer(cfg)
    assert run.trainer.state.global_step == 0 and not (tmp_path / "run" / "final").exists()
    assert (tmp_path / "run" / CONFIG_FILE).is_file()  # the configuration is saved before training
    result = run_training(run)
    assert result.global_step == 2 and result.final_model.is_dir()


def test_resume_refuses_changed_training_data_naming_the_file(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_parallel_lareqa(tmp_path / "qa", ("en", "de"), articles=6)
    cfg = _config(tiny_model_dir, data, tmp_path / "run", max_steps=4, save_steps=2)
    train(cfg, callbacks=[_StopAt(2)])
    text = (data / "de.json").read_text(encoding="utf-8")
    (data / "de.json").write_text(text.replace("Fluss", "Strom"), encoding="utf-8")
    argv = ["train", "--config", str(tmp_path / "run" / CONFIG_FILE), "--resume"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "qa/de.json changed" in err, err


def test_resume_allows_a_changed_logging_interval(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=4, save_steps=2)
    train(cfg, callbacks=[_StopAt(2)])
    resumed = train(dataclasses.replace(cfg, logging_steps=3, eval_batch_size=8), resume=True)
    assert resumed.global_step == 4


def test_a_run_saved_before_the_loss_options_resumes_as_it_trained(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    import yaml

    cfg = _config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=4, save_steps=2)
    train(cfg, callbacks=[_StopAt(2)])
    path = tmp_path / "run" / CONFIG_FILE
    saved = yaml.safe_load(path.read_text())
    for key in ("length_chunk_size", "loss_precision"):  # as polyret wrote it before them
        del saved[key]
    path.write_text(yaml.safe_dump(saved))
    with pytest.raises(ConfigError, match="--length-chunk-size 0 --loss-precision autocast"):
        train(cfg, resume=True)
    old = dataclasses.replace(cfg, length_chunk_size=0, loss_precision="autocast")
    assert train(old, resume=True).global_step == 4


@pytest.mark.parametrize("strategy", ["cross", "hybrid"])
def test_hard_negatives_with_cross_only_batches_are_warned_about(
    strategy: str, qa_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from polyret.training.data import CROSS_NEGATIVES_WARNING, load_training_data

    sampler = SamplerConfig(strategy)
    config = _config(Path("unused"), qa_dir, tmp_path / "run", hard_negatives=1, sampler=sampler)
    with caplog.at_level(logging.WARNING, logger="polyret.training.data"):
        load_training_data(config)
    warned = CROSS_NEGATIVES_WARNING in caplog.text
    assert warned == (strategy == "cross")


def test_context_passages_train_with_context_negatives(
    tiny_poolerless_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    from polyret.data.lareqa import load_lareqa
    from polyret.pairs import passage_text
    from polyret.training.data import load_training_data

    config = _config(
        tiny_poolerless_model_dir, qa_dir, tmp_path / "run", context=True, hard_negatives=1,
        max_steps=2, dev_fraction=0.0,
    )  # fmt: skip
    pairs = load_training_data(config).train
    qa = load_lareqa(qa_dir)
    candidates = {
        lang: {passage_text(c.text, c.context) for c in data.candidates}
        for lang, data in qa.languages.items()
    }
    for row, pair in zip(pairs.to_dataset(), pairs.pairs, strict=True):
        # A sentence+context candidate of the query's language, as LAReQA scores them.
        assert row["negative_1"] in candidates[pair.query_lang]
    assert train(config).global_step == 2


def test_a_run_trained_with_context_is_scored_on_the_dev_split_with_context(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa
    from polyret.training.data import load_training_data

    config = _config(tiny_model_dir, qa_dir, tmp_path / "run", context=True, max_steps=2)
    result = train(config)
    dev = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())["dev_metrics"]
    split = load_training_data(config).dev
    assert split is not None
    model = SentenceTransformer(str(result.final_model), device="cpu")
    scored = {
        text: evaluate_lareqa(
            model, split, LareqaEvalConfig(batch_size=32, candidate_text=text, precision="fp32")
        ).summary()
        for text in ("sentence", "sentence+context")
    }
    # The candidates the model trained on, with their paragraph, not the bare sentences.
    for key in ("mono_map", "cross_map", "multi_map"):
        assert dev[f"dev_{key}"] == pytest.approx(scored["sentence+context"][key], abs=1e-6)
    assert dev["dev_multi_map"] != pytest.approx(scored["sentence"]["multi_map"], abs=1e-6)


class _ScrambleAt(TrainerCallback):
    """Overwrites the encoder's weights with noise at one step, before that step's evaluation:
    a step the dev split must score worst."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        if state.global_step == self.step and model is not None:
            generator = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for param in model.parameters():
                    if param.requires_grad:
                        param.copy_(torch.randn(param.shape, generator=generator))
        return control


def _best_config(model: Path, data: Path, out: Path, max_steps: int) -> TrainConfig:
    """A run that evaluates and saves every 2 steps and keeps the best dev mean_map."""
    return _config(
        model, data, out, max_steps=max_steps, eval_steps=2, save_steps=2, best_metric="mean_map"
    )


def test_best_metric_keeps_the_best_dev_checkpoint_as_the_final_model(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    from polyret.evaluation.lareqa import LareqaEvalConfig, evaluate_lareqa
    from polyret.training.data import load_training_data

    config = _best_config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=6)
    result = train(config, callbacks=[_ScrambleAt(6)])
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    scores: dict[int, float] = {}
    for entry in summary["dev_history"]:  # the steps as evaluated during training
        scores[entry["step"]] = entry["dev_mean_map"]
    assert [entry["step"] for entry in summary["dev_history"]] == [2, 4, 6]
    best = max(scores, key=lambda step: scores[step])
    assert scores[6] < scores[best]  # the scrambled last step is not kept
    assert result.best_step == summary["best_step"] == best and result.global_step == 6
    split = load_training_data(config).dev
    assert split is not None
    model = SentenceTransformer(str(result.final_model), device="cpu")
    final = evaluate_lareqa(model, split, LareqaEvalConfig(batch_size=32, precision="fp32"))
    maps = [final.summary()[f"{kind}_map"] for kind in ("mono", "cross", "multi")]
    assert sum(maps) / 3 == pytest.approx(scores[best], abs=1e-6)
    assert summary["dev_metrics"]["dev_mean_map"] == pytest.approx(scores[best], abs=1e-6)
    card = (result.final_model / "README.md").read_text(encoding="utf-8")
    assert f"step {best} of 6, the best dev mean_map" in card


class _NudgeAtEnd(TrainerCallback):
    """Moves one weight by 1e-3 after the Trainer has loaded the best checkpoint: a load that
    went wrong in a single number."""

    def on_train_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        assert model is not None
        with torch.no_grad():
            next(p for p in model.parameters() if p.requires_grad).view(-1)[0] += 1e-3
        return control


def test_best_metric_refuses_a_final_model_that_is_not_the_best_checkpoint(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path
) -> None:
    config = _best_config(tiny_model_dir, qa_dir, tmp_path / "run", max_steps=4)
    with pytest.raises(ModelError, match=r"checkpoint-\d: the best checkpoint .* not loaded: 1 of"):
        train(config, callbacks=[_NudgeAtEnd()])
    assert not (tmp_path / "run" / FINAL_DIR).exists()  # no final model that is not the best


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"eval_steps": 0, "save_steps": 2}, "needs dev evaluations"),
        ({"eval_steps": 2, "save_steps": 3}, "must equal eval_steps"),
        ({"eval_steps": 2, "save_steps": 4}, "must equal eval_steps"),
        ({"eval_steps": 2, "save_steps": 2, "dev_fraction": 0.0}, "needs a dev split"),
        ({"eval_steps": 8, "save_steps": 8}, "more than max_steps"),
        ({"eval_steps": 2, "save_steps": 2, "best_metric": "ndcg"}, "must be one of"),
    ],
)
def test_best_metric_refuses_a_run_that_cannot_keep_an_evaluated_checkpoint(
    options: dict[str, object], message: str, tmp_path: Path
) -> None:
    values: dict[str, object] = {"best_metric": "multi_map", **options}
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path / "m", tmp_path / "d", tmp_path / "run", **values)


def test_best_metric_survives_a_resume(tiny_model_dir: Path, qa_dir: Path, tmp_path: Path) -> None:
    def cfg(name: str) -> TrainConfig:
        return _best_config(tiny_model_dir, qa_dir, tmp_path / name, max_steps=6)

    # Noise at step 4 leaves steps 4 and 6 below step 2: the best is before the cut at step 3.
    full = train(cfg("full"), callbacks=[_ScrambleAt(4)])
    assert full.best_step == 2
    train(cfg("cut"), callbacks=[_StopAt(3)])
    # The newest checkpoint stays beside the best one, so the run resumes where it stopped.
    assert sorted(p.name for p in (tmp_path / "cut").glob("checkpoint-*")) == [
        "checkpoint-2",
        "checkpoint-3",
    ]
    # The best score and checkpoint come back with the checkpoint's trainer state.
    resumed = train(cfg("cut"), resume=True, callbacks=[_ScrambleAt(4)])
    assert resumed.best_step == 2
    assert resumed.dev_metrics["dev_mean_map"] == pytest.approx(
        full.dev_metrics["dev_mean_map"], abs=1e-5
    )
    a, b = _weights(full.final_model), _weights(resumed.final_model)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_best_metric_from_the_command_line(
    tiny_model_dir: Path, qa_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--model", str(tiny_model_dir), "--dataset", str(qa_dir), "--device", "cpu"]
    argv += ["--output-dir", str(tmp_path / "run"), "--batch-size", "4", "--max-steps", "4"]
    argv += ["--eval-steps", "2", "--save-steps", "2", "--best-metric", "multi_map"]
    argv += ["--precision", "fp32", "--dev-fraction", "0.2"]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert summary["best_metric"] == "multi_map" and summary["best_step"] in (2, 4)
    out = capsys.readouterr().out
    assert f"(step {summary['best_step']}, best dev multi_map)" in out
