"""Build the bundled ``fashion-mnist-mini`` sample: a stratified, seeded subset of the real data.

Usage: python scripts/make_mini.py [--data-dir DIR] [--train-per-class 500] [--test-per-class 100]
"""

import argparse
from pathlib import Path

import torch

from divekit.data.idx import write_idx
from divekit.data.images import load_dataset


def stratified(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(int(labels.max()) + 1):
        idx = torch.nonzero(labels == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(picks).sort().values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--train-per-class", type=int, default=500)
    ap.add_argument("--test-per-class", type=int, default=100)
    ap.add_argument("--out", default=str(Path(__file__).parents[1] / "divekit" / "data" / "mini"))
    args = ap.parse_args()
    for split, prefix, per in (("train", "train", args.train_per_class), ("test", "t10k", args.test_per_class)):
        ds = load_dataset("fashion-mnist", split, args.data_dir, download=False)
        idx = stratified(ds.labels, per, seed=0)
        write_idx(Path(args.out) / f"{prefix}-images-idx3-ubyte.gz", ds.images[idx, 0].numpy())
        write_idx(Path(args.out) / f"{prefix}-labels-idx1-ubyte.gz", ds.labels[idx].to(torch.uint8).numpy())
        print(split, len(idx))


if __name__ == "__main__":
    main()
