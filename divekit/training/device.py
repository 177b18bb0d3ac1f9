"""Device, precision and thread choices."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

import torch

from divekit import speed
from divekit.errors import ConfigError
from divekit.machine import cpu_bf16_native


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ConfigError(f"--device {name}: no CUDA GPU is available (torch {torch.__version__} is {build}); "
                          f"use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None means plain fp32).

    ``auto``: bf16 on a CPU that has native bf16, bf16 on a GPU that supports it else fp16, fp32 otherwise.
    """
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_bf16_native() else None
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if device.type == "cpu" and dtype == torch.float16:
        raise ConfigError("--precision fp16 is for CUDA; on the CPU use bf16 or fp32")
    return dtype


def run_precision(config: Any, device: torch.device) -> torch.dtype | None:
    """``resolve_precision`` for a run of ``config`` (a ``TrainConfig``): ``auto`` stays fp32 on the CPU for a
    model whose fast path computes in fp32 only (the LeNet kernels), where that path beats bf16 autocast on the
    plain layers even with native bf16 (docs/benchmarks.md, "The book's LeNet recipe")."""
    if config.precision == "auto" and device.type == "cpu" and speed.fp32_only(config.model, config.fast_paths):
        return None
    return resolve_precision(config.precision, device)


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for ``dtype``, or a no-op for fp32."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def set_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads (default: the cores this process may use, as torch picks,
    unless OMP_NUM_THREADS says otherwise). Returns the number in use."""
    if threads:
        torch.set_num_threads(threads)
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    return torch.get_num_threads()
