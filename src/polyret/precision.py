"""Numeric precision of every command that encodes or trains: ``auto``, ``fp32``, ``bf16``, ``fp16``.

Reduced precision always runs under ``torch.autocast``: the weights stay float32, matrix
products run in bfloat16 (or float16), and what leaves the transformer is cast back to float32,
so pooling, normalization and everything polyret does with the embeddings run in float32.
Training hands the choice to the Hugging Face Trainer (``bf16=True`` / ``fp16=True``), which
autocasts the forward pass on CPU and GPU alike and keeps float32 master weights.

Encoding: :func:`set_precision` hooks the model's first module (the transformer) so that every
``encode`` / ``encode_query`` / ``encode_document`` runs under autocast, whoever calls it;
:func:`precision_scope` does the same for one block and then restores what was there.

What bf16 costs in metrics and gains in speed is measured by ``benchmarks/eval_speed.py
--precisions`` and ``benchmarks/train_speed.py --precisions`` (numbers in docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyret.errors import ConfigError, parse_enum

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PRECISION",
    "PRECISIONS",
    "Precision",
    "cpu_has_native_bf16",
    "model_precision",
    "native_bf16",
    "parse_precision",
    "precision_scope",
    "resolve_precision",
    "set_precision",
]


class Precision(str, Enum):
    """The numeric precision a command encodes and trains in.

    AUTO (default): BF16 where the device computes bfloat16 natively (an x86 CPU with
        AVX512-BF16 or AMX, a CUDA GPU with bf16 support: Ampere and newer), FP32 elsewhere.
        The fastest choice that keeps the metrics (see docs/benchmarks.md); the resolved
        precision is written into every result,
        so a number can always be traced to the precision that made it.
    FP32: full precision everywhere. Use it to compare with results made before this option
        existed, or to get the same numbers on every machine.
    BF16: bfloat16 autocast. Honoured on every CPU and CUDA device, so that the numbers do not
        depend on the machine; where the hardware has no native bf16 it is emulated, slower than
        fp32, and a warning says so.
    FP16: float16 autocast, CUDA only (GPUs without bf16, e.g. V100 or T4); training adds a
        gradient scaler.
    """

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"


PRECISIONS = tuple(p.value for p in Precision)
# The default of every command's --precision (see Precision.AUTO).
DEFAULT_PRECISION = Precision.AUTO.value

# /proc/cpuinfo flags of x86 CPUs whose bfloat16 matrix products oneDNN runs natively.
_CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_CPUINFO = Path("/proc/cpuinfo")


def parse_precision(value: str | Precision) -> Precision:
    """``value`` as a :class:`Precision`; a :class:`ConfigError` lists the choices otherwise."""
    return parse_enum(Precision, value, "precision")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX)."""
    return bool(_cpu_flags() & _CPU_BF16_FLAGS)


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (no emulation)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cpu":
        return cpu_has_native_bf16()
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return False


def default_device() -> str:
    """The device a model lands on when none is given (as sentence-transformers and accelerate pick)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(precision: str | Precision, device: str | torch.device | None = None) -> str:
    """The precision ``precision`` means on ``device``: ``"fp32"``, ``"bf16"`` or ``"fp16"``.

    ``auto`` becomes bf16 where the device has it natively and fp32 elsewhere. An explicit bf16
    is honoured on every CPU and CUDA device (with a warning where it is emulated); fp16 needs
    CUDA; reduced precision on any other device type is refused.
    """
    import torch

    choice = parse_precision(precision)
    dev = torch.device(device if device is not None else default_device())
    if choice is Precision.AUTO:
        return "bf16" if native_bf16(dev) else "fp32"
    if choice is Precision.FP32:
        return "fp32"
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(
            f"precision={choice.value} is supported on cpu and cuda devices, not {dev.type}; "
            "use fp32 (or auto)"
        )
    if choice is Precision.FP16:
        if dev.type != "cuda":
            raise ConfigError("precision=fp16 needs a CUDA GPU; on CPU use bf16, fp32 or auto")
        return "fp16"
    if not native_bf16(dev):
        where = (
            "this CPU has neither AVX512-BF16 nor AMX"
            if dev.type == "cpu"
            else "this GPU has no native bf16"
        )
        logger.warning(
            "precision=bf16: %s, so bfloat16 is emulated and slower than fp32 here "
            "(auto would pick fp32)",
            where,
        )
    return "bf16"


def _dtype(resolved: str) -> torch.dtype:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}[resolved]


class _AutocastHooks:
    """Forward hooks that run one module under ``torch.autocast`` and cast its outputs to float32.

    The pre-hook enters the autocast context, the (always called) forward hook leaves it, so an
    exception inside the module leaves no autocast state behind. A class rather than closures,
    so that a hooked model still pickles and deep-copies (multi-process encoding).

    When no gradient is taken (encoding), the pre-hook also lends every ``nn.Linear`` a
    reduced-precision copy of its weight for the duration of the forward pass, made once and
    kept while the weight is unchanged. autocast would make the same copy itself, but on every
    forward pass: sentence-transformers encodes under ``torch.inference_mode``, where autocast
    keeps no cast cache, and re-casting the weights took ~20% of a bf16 forward pass on CPU.
    The outputs are identical; the model's own parameters are never changed.
    """

    def __init__(self, device_type: str, resolved: str) -> None:
        self.device_type = device_type
        self.resolved = resolved
        self.handles: list[Any] = []
        self._open: list[Any] = []
        self._lent: list[list[tuple[Any, Any]]] = []
        self._casts: dict[int, tuple[Any, int, Any]] = {}

    def install(self, module: Any) -> None:
        self.handles = [
            module.register_forward_pre_hook(self.before),
            module.register_forward_hook(self.after, always_call=True),
        ]
        setattr(module, _HOOKS_ATTR, self)

    def remove(self, module: Any) -> None:
        for handle in self.handles:
            handle.remove()
        delattr(module, _HOOKS_ATTR)

    def before(self, module: Any, args: Any) -> None:
        import torch

        ctx = torch.autocast(self.device_type, dtype=_dtype(self.resolved))
        ctx.__enter__()
        self._open.append(ctx)
        self._lent.append(self._lend_weights(module) if not torch.is_grad_enabled() else [])

    def after(self, module: Any, args: Any, output: Any) -> Any:
        if self._lent:
            for linear, weight in self._lent.pop():
                linear._parameters["weight"] = weight
        if self._open:
            self._open.pop().__exit__(None, None, None)
        return _to_float32(output)

    def _lend_weights(self, module: Any) -> list[tuple[Any, Any]]:
        import torch

        dtype = _dtype(self.resolved)
        lent = []
        for linear in module.modules():
            weight = (
                linear._parameters.get("weight") if isinstance(linear, torch.nn.Linear) else None
            )
            if weight is None or weight.dtype != torch.float32:
                continue
            cached = self._casts.get(id(linear))
            if cached is None or cached[0] is not weight or cached[1] != weight._version:
                copy = torch.nn.Parameter(weight.detach().to(dtype), requires_grad=False)
                cached = self._casts[id(linear)] = (weight, weight._version, copy)
            linear._parameters["weight"] = cached[2]
            lent.append((linear, weight))
        return lent

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open": [], "_lent": [], "_casts": {}}


def _to_float32(output: Any) -> Any:
    import torch

    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, dict):
        for key, value in output.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                output[key] = value.float()
        return output
    return output


_HOOKS_ATTR = "_polyret_precision_hooks"


def _first_module(model: Any) -> Any:
    # A SentenceTransformer is a Sequential of modules; its first one is the transformer.
    try:
        return model[0]
    except (TypeError, IndexError, KeyError):
        return model


def model_precision(model: Any) -> str:
    """The precision ``model`` encodes in: what :func:`set_precision` gave it, else ``"fp32"``."""
    hooks = getattr(_first_module(model), _HOOKS_ATTR, None)
    return hooks.resolved if hooks is not None else "fp32"


def set_precision(model: Any, precision: str | Precision) -> str:
    """Make every forward pass of ``model`` run at ``precision``; returns the resolved precision.

    ``model``: a SentenceTransformer (its first module, the transformer, is hooked) or any
    ``nn.Module``. The resolution uses the model's device. fp32 removes the hooks.
    """
    import torch

    module = _first_module(model)
    device = getattr(model, "device", None)
    if device is None:
        param = next(module.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    resolved = resolve_precision(precision, device)
    _replace_hooks(module, None if resolved == "fp32" else (torch.device(device).type, resolved))
    return resolved


def _replace_hooks(module: Any, new: tuple[str, str] | None) -> None:
    old = getattr(module, _HOOKS_ATTR, None)
    if old is not None:
        old.remove(module)
    if new is not None:
        _AutocastHooks(*new).install(module)


@contextlib.contextmanager
def precision_scope(model: Any, precision: str | Precision | None) -> Iterator[str]:
    """Run ``model`` at ``precision`` inside the block (None: as it is); yields the resolved precision."""
    if precision is None:
        yield model_precision(model)
        return
    module = _first_module(model)
    before = getattr(module, _HOOKS_ATTR, None)
    resolved = set_precision(model, precision)
    try:
        yield resolved
    finally:
        _replace_hooks(module, None if before is None else (before.device_type, before.resolved))
