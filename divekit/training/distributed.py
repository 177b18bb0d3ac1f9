"""Multi-process data-parallel training on PyTorch's own engine (``DistributedDataParallel``).

``torchrun --nproc_per_node=N -m divekit train … --ddp`` starts N processes ("ranks"). Each one builds the
same model from the same seed and trains on its own shard of every global batch:

    global batch b of the epoch's (seeded) order ── split in N consecutive shards ──► rank r takes shard r
    backward: DDP averages the gradients over the ranks  ⇒  every rank takes the step of the whole batch
    epoch end: Σ loss, Σ correct, Σ examples (training and evaluation) are summed over the ranks

With shards of equal size the mean of the per-rank mean gradients is the gradient of the global batch, so N
processes follow the single-process run with the same global ``--batch-size`` (up to float rounding).
Only rank 0 writes the run directory and prints; the others stay silent.

``torch.distributed`` is imported only here and only when used, so ``import divekit`` stays fast.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from divekit.data.split import shard_range  # noqa: F401  (re-exported: the ranks' share of a list)
from divekit.errors import ConfigError

LAUNCH_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
HOW_TO_LAUNCH = "launch with torchrun, e.g. 'torchrun --nproc_per_node=2 -m divekit train … --ddp'"


def launch_world() -> int:
    """The world size torchrun announced in the environment; ``ConfigError`` saying how to launch if absent."""
    missing = [name for name in LAUNCH_ENV if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"--ddp: {', '.join(missing)} not set (not started by torchrun); {HOW_TO_LAUNCH}")
    try:
        world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    except ValueError:
        raise ConfigError(f"--ddp: WORLD_SIZE={os.environ['WORLD_SIZE']!r} and RANK={os.environ['RANK']!r} "
                          f"must be integers; {HOW_TO_LAUNCH}") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"--ddp: RANK={rank} must be in [0, WORLD_SIZE={world}); {HOW_TO_LAUNCH}")
    return world


def check_batch(batch_size: int, world: int) -> None:
    """``--batch-size`` is the global batch: it must split evenly over the ``world`` processes."""
    if batch_size % world:
        fits = [b for b in (batch_size - batch_size % world, batch_size + world - batch_size % world) if b > 0]
        raise ConfigError(f"--batch-size {batch_size} is the global batch and must be divisible by the "
                          f"{world} processes (each takes batch/{world}); try {' or '.join(map(str, fits))}")


def init(device: str = "auto") -> str:
    """Join the process group torchrun set up (env:// rendezvous). Returns the backend: NCCL when training
    on CUDA (each process then uses GPU ``LOCAL_RANK``), gloo on the CPU."""
    import torch.distributed as dist

    launch_world()
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))  # so "cuda" means this process's own GPU
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return backend


def teardown() -> None:
    """Leave the process group (a no-op when none is active)."""
    if active():
        import torch.distributed as dist

        dist.destroy_process_group()


def active() -> bool:
    """True inside an initialised process group (of any size, one process included)."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return torch.distributed.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return torch.distributed.get_world_size() if active() else 1


def is_main() -> bool:
    """True on the process that writes files and prints (rank 0, or the only process)."""
    return rank() == 0


def sum_over_ranks(*values: torch.Tensor | int | float) -> list[float]:
    """Sum each value over all ranks in one all-reduce (float64: integer counts stay exact below 2^53)."""
    device = next((v.device for v in values if isinstance(v, torch.Tensor)), torch.device("cpu"))
    packed = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).reshape(()) for v in values])
    if active() and world_size() > 1:
        torch.distributed.all_reduce(packed)
    return packed.tolist()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. the run directory rank 0 just created)."""
    if not active() or world_size() == 1:
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in ``DistributedDataParallel`` (rank 0's weights are broadcast to all ranks on entry).

    Keep training through the wrapper (its backward averages the gradients) and everything else (saving,
    evaluation, checkpoints) on ``model`` itself, whose state-dict keys carry no ``module.`` prefix.
    """
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
