"""Keep freed memory mapped between training steps (glibc's malloc settings): a fast path of ``divekit.speed``."""

from __future__ import annotations

import ctypes
import os
import platform
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit machines
_TRIM_THRESHOLD = 1024 * 1024 * 1024


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next step instead of handing it back to the kernel.

    A training step frees and re-allocates the same activation buffers every step. With glibc's defaults, in a
    process that has not yet freed a large block, the freed top of the heap goes back to the kernel and the next
    step page-faults every page of those buffers in again: ``fit`` on ``fast93`` at batch 256 took ~3,200–4,400
    minor page faults a step in a fresh process (``getrusage``), ~170–250 with this, and its 80 steps ran ~9 %
    faster (4.55 → 4.17 s, 3.81 → 3.45 s; two threads, interleaved). ``divekit train`` was not affected: loading
    the dataset frees blocks big enough to raise glibc's own thresholds. Here buffers up to 32 MB (glibc's cap)
    come from the heap and up to 1 GiB of freed heap stays mapped; the price is that the process keeps its peak
    heap until it exits.

    Done once per process, only with glibc, and not when the user already chose (``MALLOC_MMAP_THRESHOLD_``
    or ``MALLOC_TRIM_THRESHOLD_`` set, or another allocator in ``LD_PRELOAD``) or opted out with
    ``DIVEKIT_KEEP_FREED_MEMORY=0``. Returns True when the settings were applied.
    """
    env = os.environ
    if (env.get("DIVEKIT_KEEP_FREED_MEMORY", "1") == "0" or "MALLOC_MMAP_THRESHOLD_" in env
            or "MALLOC_TRIM_THRESHOLD_" in env or "malloc" in env.get("LD_PRELOAD", "")
            or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
                    and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False
