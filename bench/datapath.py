"""Data path: one epoch of Fashion-MNIST training batches, divekit's tensor-resident loader against
``torch.utils.data.DataLoader`` over a per-image Dataset (the book's way).

- divekit: ``TensorLoader`` as ``divekit train`` builds it (batch 256, seeded shuffle, uint8 → normalised
  float per batch, channels-last), without and with flip augmentation;
- baseline: bench/baselines/book_lenet.py's per-image ``FashionMNIST`` Dataset (torchvision's: each image
  made a PIL image and turned back into a float tensor, as ``ToTensor`` does) in a ``DataLoader`` (batch 256,
  shuffle) with 4 worker processes (the book's setting) and with none, without and with a per-image random
  flip (``RandomHorizontalFlip``'s way).

Each timing is one full epoch (60,000 images, every batch a float tensor), from creating the iterator to the
last batch, worker start-up included. Loaders take turns (interleaved, the order alternating each repeat).
Prints one JSON line per measurement and one per ratio (median baseline time / median divekit time).
Usage: python bench/datapath.py [--repeat N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE / "baselines"))

import torch  # noqa: E402
from book_lenet import FashionMNIST  # noqa: E402
from torch.utils import data  # noqa: E402

from divekit.data.images import load_dataset  # noqa: E402
from divekit.data.loader import Augment, TensorLoader  # noqa: E402

BATCH = 256


class FlippedFashionMNIST(FashionMNIST):
    """The per-image Dataset with a random horizontal flip of each image (p = 0.5)."""

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return (x.flip(-1) if torch.rand(()) < 0.5 else x), y


def loaders(data_dir: str) -> dict:
    """Name → a zero-argument function giving a fresh iterable over one epoch."""
    ds = load_dataset("fashion-mnist", "train", data_dir, download=False)
    root = str(Path(ds.source))
    plain, flipped = FashionMNIST(root, True), FlippedFashionMNIST(root, True)

    def tensor(flip: bool):
        return lambda: TensorLoader(ds.images, ds.labels, BATCH, shuffle=True, seed=0, mean=ds.mean, std=ds.std,
                                    augment=Augment(0, flip), channels_last=True)

    def book(dataset, workers: int):
        return lambda: data.DataLoader(dataset, BATCH, shuffle=True, num_workers=workers)

    return {"divekit": tensor(False), "divekit-flip": tensor(True),
            "dataloader-w4": book(plain, 4), "dataloader-w0": book(plain, 0),
            "dataloader-w4-flip": book(flipped, 4), "dataloader-w0-flip": book(flipped, 0)}


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (the loader's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def epoch_seconds(make) -> tuple[float, float, int]:
    """Wall and CPU seconds for one epoch from a fresh loader, and the number of examples it gave."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    n = 0
    for x, y in make():
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28)
        n += len(y)
    return time.perf_counter() - t0, cpu_seconds() - c0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=os.environ.get("DIVEKIT_DATA"))
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads of the main process (default: torch's choice; 1 is steadier on a busy machine)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        arms = loaders(args.data_dir)
    except Exception as e:  # noqa: BLE001 - any reason the data cannot be read ends the bench with it
        raise SystemExit(f"Fashion-MNIST not found ({e}); set DIVEKIT_DATA or --data-dir") from None
    times: dict[str, list[float]] = {name: [] for name in arms}
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for r in range(args.repeat):
        for name in names if r % 2 == 0 else names[::-1]:
            seconds, cpu_s, n = epoch_seconds(arms[name])
            times[name].append(seconds)
            cpu[name].append(cpu_s)
            print(json.dumps({"bench": "datapath", "loader": name, "repeat": r, "seconds": round(seconds, 3),
                              "cpu_seconds": round(cpu_s, 3), "examples": n, "threads": torch.get_num_threads()}),
                  flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    for ours, theirs in (("divekit", "dataloader-w4"), ("divekit", "dataloader-w0"),
                         ("divekit-flip", "dataloader-w4-flip"), ("divekit-flip", "dataloader-w0-flip")):
        print(json.dumps({"bench": "datapath", "figure": f"{theirs} / {ours}", "divekit_median_s": round(med[ours], 3),
                          "baseline_median_s": round(med[theirs], 3), "speedup": round(med[theirs] / med[ours], 2),
                          "cpu_speedup": round(med_cpu[theirs] / med_cpu[ours], 2), "repeat": args.repeat}),
              flush=True)


if __name__ == "__main__":
    main()
