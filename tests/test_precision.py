from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path

import pytest
import torch

from polyret import precision as prec
from polyret.errors import ConfigError
from polyret.models import load_model
from polyret.precision import (
    model_precision,
    precision_scope,
    resolve_precision,
    set_precision,
)

TEXTS = [
    "Where is the capital of France?",
    "Wo ist die Hauptstadt von Frankreich? Paris ist die Hauptstadt Frankreichs.",
    "法国的首都是巴黎。",
    "The quick brown fox jumps over the lazy dog 0123456789.",
]


@pytest.fixture
def cpu_flags(monkeypatch: pytest.MonkeyPatch):
    """Pretend the CPU has exactly the given /proc/cpuinfo flags."""

    def set_flags(*flags: str) -> None:
        monkeypatch.setattr(prec, "_cpu_flags", lambda: frozenset(flags))

    return set_flags


def test_auto_is_fp32_without_native_bf16(cpu_flags) -> None:
    cpu_flags("avx2", "avx512f", "avx512_vnni")
    assert not prec.cpu_has_native_bf16()
    assert resolve_precision("auto", "cpu") == "fp32"


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_is_bf16_with_native_bf16(cpu_flags, flag: str) -> None:
    cpu_flags("avx512f", flag)
    assert resolve_precision("auto", "cpu") == "bf16"


def test_explicit_bf16_without_native_support_runs_with_a_warning(
    cpu_flags, caplog: pytest.LogCaptureFixture
) -> None:
    cpu_flags("avx2")
    with caplog.at_level(logging.WARNING, logger="polyret.precision"):
        assert resolve_precision("bf16", "cpu") == "bf16"
    assert "emulated and slower than fp32" in caplog.text


def test_fp32_is_fp32_everywhere(cpu_flags) -> None:
    cpu_flags("avx512_bf16")
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("fp32", "meta") == "fp32"


@pytest.mark.parametrize(
    ("precision", "device", "words"),
    [
        ("fp16", "cpu", "needs a CUDA GPU"),
        ("bf16", "meta", "cpu and cuda"),
        ("half", "cpu", "auto, fp32, bf16, fp16"),
    ],
)
def test_refused_precisions_say_why(precision: str, device: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        resolve_precision(precision, device)


def test_cpu_flags_are_read_from_cpuinfo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n\n"
        "processor\t: 1\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n"
    )
    monkeypatch.setattr(prec, "_CPUINFO", info)
    prec._cpu_flags.cache_clear()
    try:
        assert prec.cpu_has_native_bf16()
        monkeypatch.setattr(prec, "_CPUINFO", tmp_path / "absent")
        prec._cpu_flags.cache_clear()
        assert not prec.cpu_has_native_bf16()
    finally:
        prec._cpu_flags.cache_clear()


def test_bf16_encoding_is_close_to_fp32(tiny_model_dir: Path) -> None:
    model = load_model(tiny_model_dir, device="cpu")
    fp32 = model.encode_document(TEXTS, convert_to_tensor=True)
    assert set_precision(model, "bf16") == "bf16" and model_precision(model) == "bf16"
    bf16 = model.encode_document(TEXTS, convert_to_tensor=True)
    assert bf16.dtype == torch.float32
    assert torch.allclose(bf16.norm(dim=1), torch.ones(len(TEXTS)), atol=1e-5)  # normalized in fp32
    assert (fp32 * bf16).sum(1).min() > 0.99
    assert not torch.equal(fp32, bf16)  # it did run in bf16
    assert set_precision(model, "fp32") == "fp32" and model_precision(model) == "fp32"
    assert torch.equal(model.encode_document(TEXTS, convert_to_tensor=True), fp32)
    assert not torch.is_autocast_enabled("cpu")


def test_precision_scope_restores_and_hooked_models_copy(tiny_model_dir: Path) -> None:
    model = load_model(tiny_model_dir, device="cpu")
    set_precision(model, "bf16")
    with precision_scope(model, "fp32") as resolved:
        assert resolved == "fp32" and model_precision(model) == "fp32"
    assert model_precision(model) == "bf16"
    with precision_scope(model, None) as resolved:
        assert resolved == "bf16"
    twin = copy.deepcopy(model)
    assert model_precision(twin) == "bf16"
    set_precision(twin, "fp32")  # the copy's hooks are its own
    assert model_precision(twin) == "fp32" and model_precision(model) == "bf16"
    assert len(twin[0]._forward_hooks) == 0 and len(model[0]._forward_hooks) == 1
    assert model_precision(pickle.loads(pickle.dumps(model))) == "bf16"


def test_an_error_inside_the_model_leaves_no_autocast_behind(tiny_model_dir: Path) -> None:
    model = load_model(tiny_model_dir, device="cpu")
    set_precision(model, "bf16")

    def fail(module: object, args: object) -> None:
        assert torch.is_autocast_enabled("cpu")
        raise RuntimeError("inside the transformer")

    model[0].auto_model.encoder.register_forward_pre_hook(fail)
    with pytest.raises(RuntimeError, match="inside the transformer"):
        model.encode_query(TEXTS[:1])
    assert not torch.is_autocast_enabled("cpu")


def test_encode_lareqa_records_the_precision(tiny_model_dir: Path, tmp_path: Path) -> None:
    from evaluation.lareqa_fixtures import write_random_dataset
    from polyret.data.lareqa import load_lareqa
    from polyret.evaluation import LareqaEvalConfig

    dataset = load_lareqa(write_random_dataset(tmp_path / "data"))
    model = load_model(tiny_model_dir, device="cpu")
    fp32 = LareqaEvalConfig(show_progress=False).encode(model, dataset)
    bf16 = LareqaEvalConfig(show_progress=False, precision="bf16").encode(model, dataset)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert model_precision(model) == "fp32"  # the config's precision is for that encoding only
    lang = dataset.langs[0]
    assert (fp32.candidates[lang] * bf16.candidates[lang]).sum(1).min() > 0.99
    with pytest.raises(ConfigError, match="precision"):
        LareqaEvalConfig(precision="fp8")
