"""What this machine offers, read without importing torch: cores, native bf16, a GPU driver."""

from __future__ import annotations

import os
from functools import lru_cache

BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU flags of native bf16 arithmetic


def cores() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def max_threads() -> int:
    """More threads than this only wait on each other; far more (100,000) make OpenMP crash the process."""
    return max(4 * cores(), 64)


@lru_cache(maxsize=1)
def cpu_bf16_native() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in BF16_FLAGS)


def gpu_driver() -> bool:
    """An NVIDIA driver is loaded (a CUDA device may be there: torch decides)."""
    return os.path.exists("/proc/driver/nvidia/version")
