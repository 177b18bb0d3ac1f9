"""Fast paths: the same maths as the plain PyTorch code, computed faster. Every one is listed here.

========================  ===============================================  =====================================
fast path                 what it does                                     plain path (``fast_paths=False``)
========================  ===============================================  =====================================
``lenet_kernels``         the book's LeNet: each sigmoid → 2×2 average     ``nn.Sequential`` as written
                          pool pair in one fused autograd node, and conv
                          2's input gradient in NCHW (``speed/lenet.py``)
``sgd_step``              divekit's own SGD step (``speed/sgd.py``): no     ``torch.optim.SGD``
                          ``torch._dynamo`` import, less per-step overhead
``keep_freed_memory``     glibc keeps freed heap mapped between steps       glibc's defaults
                          (``speed/memory.py``): no page faults per step
========================  ===============================================  =====================================

All are on by default and switched off together with ``divekit train --no-fast-paths`` (``TrainConfig(
fast_paths=False)``), which trains on plain PyTorch: a way to rule them out when a result looks wrong.
Each is tested equal to its plain path: the LeNet kernels to float rounding (tests/test_fast_lenet.py), the
SGD step bit for bit (tests/test_sgd.py), the allocator settings change no number (tests/test_speed.py).
What each gains, measured, is in docs/benchmarks.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

FAST_PATHS = {
    "lenet_kernels": "fused sigmoid → average-pool pairs and an NCHW input gradient for the book's LeNet",
    "sgd_step": "divekit's own SGD step instead of torch.optim.SGD (same numbers)",
    "keep_freed_memory": "glibc keeps freed memory mapped between training steps",
}
# registered model name -> the fast path that rewrites it (the other models train as built)
MODEL_FAST_PATHS = {"lenet": "lenet_kernels"}


def speed_up_model(name: str, model: nn.Module) -> tuple[nn.Module, list[str]]:
    """``model`` (built as registered model ``name``) with its fast path applied, and the names applied."""
    if MODEL_FAST_PATHS.get(name) == "lenet_kernels":
        from divekit.speed.lenet import speed_up

        return speed_up(model), ["lenet_kernels"]
    return model, []


FP32_ONLY = {"lenet_kernels"}  # fast paths that run in fp32 only: under autocast their model takes the plain path


def fp32_only(model: str, fast: bool) -> bool:
    """True when registered model ``model`` has a fast path (``fast`` on) that computes in fp32 only; on the CPU
    ``--precision auto`` then trains in fp32: the LeNet kernels' step (batch 256, 2 threads, native bf16) takes
    6.6–7.4 ms, the plain layers under bf16 autocast 7.4–8.5 ms."""
    return fast and MODEL_FAST_PATHS.get(model) in FP32_ONLY


def keep_freed_memory() -> bool:
    """Apply the allocator fast path (once per process); True when the settings were applied."""
    from divekit.speed.memory import keep_freed_memory as apply

    return apply()


def applied(model: str, opt: str, fast: bool, device_type: str) -> list[str]:
    """The fast paths a run of registered model ``model`` with optimizer ``opt`` on ``device_type`` uses (for
    config.json and ``divekit summary``)."""
    if not fast:
        return []
    paths = [MODEL_FAST_PATHS[model]] if model in MODEL_FAST_PATHS else []
    if opt == "sgd":
        paths.append("sgd_step")
    if device_type == "cpu":
        paths.append("keep_freed_memory")
    return paths
