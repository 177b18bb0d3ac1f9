"""Fashion-MNIST as the book loads it, from divekit's tensor-resident data, and quick-mode capping."""

from __future__ import annotations

import os

import torch

from divekit.data.images import load_dataset
from divekit.data.loader import TensorLoader
from divekit.data.registry import FASHION_CLASSES


def subset_limit() -> int | None:
    """``$DIVEKIT_BOOK_SUBSET`` as an int (examples per split), or None when unset."""
    raw = os.environ.get("DIVEKIT_BOOK_SUBSET", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"DIVEKIT_BOOK_SUBSET must be a positive integer, got {raw!r}")
    return int(raw)


def stratified_index(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``n`` examples whose class proportions match ``labels``' (all when n ≥ N).

    Each example is ranked within its class in a seeded random order; keeping the smallest
    ``(rank + 1/2) / class size`` takes every class in proportion to its size.
    """
    labels = torch.as_tensor(labels).long()
    if n >= len(labels):
        return torch.arange(len(labels))
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    lab = labels[perm]
    grouped = torch.argsort(lab, stable=True)
    counts = torch.bincount(lab)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(len(lab))
    rank[grouped] = (torch.arange(len(lab)) - starts[lab[grouped]]).float()
    key = (rank + 0.5) / counts[lab].float()
    return perm[torch.argsort(key, stable=True)[:n]].sort().values


def cap(*tensors, labels=None):
    """Cap same-length tensors/lists at ``$DIVEKIT_BOOK_SUBSET`` examples (stratified by ``labels``)."""
    n = subset_limit()
    size = len(tensors[0])
    if n is None or n >= size:
        return tensors
    idx = stratified_index(labels, n) if labels is not None else torch.arange(n)
    return tuple(t[idx] if isinstance(t, torch.Tensor) else [t[i] for i in idx.tolist()] for t in tensors)


class EpochLoader(TensorLoader):
    """A ``TensorLoader`` that moves to the next epoch's order on every new iteration."""

    def __iter__(self):
        self.set_epoch(getattr(self, "_next_epoch", 0))
        self._next_epoch = self.epoch + 1
        return super().__iter__()


def fashion_mnist_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{"train": (images uint8 [N, 1, 28, 28], labels int64 [N]), "test": …}``, capped in quick mode."""
    splits = {}
    for split in ("train", "test"):
        ds = load_dataset("fashion-mnist", split)
        splits[split] = cap(ds.images, ds.labels, labels=ds.labels)
    return splits


def image_loader(images, labels, batch_size: int, train: bool, seed: int, size) -> EpochLoader:
    """Batches ``(X float32 [B, C, H, W] in [0, 1], y)`` (channels-last, resized to ``size`` when given)."""
    return EpochLoader(images, labels, batch_size, shuffle=train, seed=seed, mean=0.0, std=1.0, resize=size,
                       channels_last=True)


def new_seed() -> int:
    """A loader seed drawn from torch's generator, so that ``torch.manual_seed`` fixes the order, as it fixes
    the book's ``DataLoader``'s."""
    return int(torch.randint(0, 2**31 - 1, ()))


def as_size(resize) -> tuple[int, int] | None:
    return (resize, resize) if isinstance(resize, int) else (tuple(resize) if resize else None)


def load_data_fashion_mnist(batch_size: int, resize: int | tuple[int, int] | None = None):
    """Fashion-MNIST train and test iterables of ``(X float32 [B, 1, H, W] in [0, 1], y int64 [B])``.

    Data comes from divekit's dataset lookup (``$DIVEKIT_DATA``, the cache, or a verified download). The
    training set is reshuffled on each pass; ``resize`` (int or (H, W)) resizes bilinearly.
    """
    seed, size, splits = new_seed(), as_size(resize), fashion_mnist_splits()
    return tuple(image_loader(*splits[split], batch_size, split == "train", seed, size)
                 for split in ("train", "test"))


def get_fashion_mnist_labels(labels) -> list[str]:
    """Class names for numeric labels."""
    return [FASHION_CLASSES[int(i)] for i in labels]
