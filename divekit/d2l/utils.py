"""Small utilities of the book: timers, running sums, devices."""

from __future__ import annotations

import time

import numpy as np
import torch


class Timer:
    """Records the durations of successive ``start()``/``stop()`` intervals (started on creation)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = time.perf_counter()

    def stop(self) -> float:
        """End the current interval; returns its length in seconds."""
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list[float]:
        return np.array(self.times).cumsum().tolist()


class Accumulator:
    """``n`` running sums: ``add(a1, …, an)`` adds elementwise; ``acc[i]`` reads sum ``i``."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args) -> None:
        if len(args) != len(self.data):
            raise ValueError(f"Accumulator of {len(self.data)} sums got {len(args)} values")
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


class Benchmark:
    """``with Benchmark('label'):`` prints ``label: 0.1234 sec`` for the block."""

    def __init__(self, description: str = "Done") -> None:
        self.description = description

    def __enter__(self) -> Benchmark:
        self.timer = Timer()
        return self

    def __exit__(self, *args) -> None:
        print(f"{self.description}: {self.timer.stop():.4f} sec")


def num_gpus() -> int:
    return torch.cuda.device_count()


def cpu() -> torch.device:
    return torch.device("cpu")


def gpu(i: int = 0) -> torch.device:
    return torch.device(f"cuda:{i}")


def try_gpu(i: int = 0) -> torch.device:
    """GPU ``i`` if it exists, else the CPU."""
    return gpu(i) if num_gpus() >= i + 1 else cpu()


def try_all_gpus() -> list[torch.device]:
    """Every GPU, or ``[cpu]`` when there is none (the 0.17 edition's answer; the 1.0 edition's would be ``[]``,
    which its own callers then cannot use for a device)."""
    return [gpu(i) for i in range(num_gpus())] or [cpu()]


def get_dataloader_workers() -> int:
    """Worker processes the book gives a ``DataLoader``; divekit's loaders read tensors in memory and need none."""
    return 0
