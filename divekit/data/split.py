"""Seeded train/validation splits (the test set is never used for choices)."""

from __future__ import annotations

import torch

from divekit.errors import DataError


def train_valid_split(labels: torch.Tensor, valid_fraction: float, seed: int = 0,
                      stratify: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Split example indices into a training part and a validation part.

    Args:
        labels: ``int64 [N]`` class labels (used for stratification).
        valid_fraction: share of examples held out, in (0, 1).
        seed: the split depends only on this seed and the labels.
        stratify: keep each class's share equal in both parts (±1 example per class).

    Returns:
        ``(train_idx, valid_idx)``: disjoint sorted index tensors that together cover ``0..N-1``.
    """
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    gen = torch.Generator().manual_seed(seed)
    n = len(labels)
    if not stratify:
        perm = torch.randperm(n, generator=gen)
        k = round(n * valid_fraction)
        return _both_parts(perm[k:].sort().values, perm[:k].sort().values, valid_fraction)
    valid = []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        valid.append(idx[: round(len(idx) * valid_fraction)])
    valid_idx = torch.cat(valid).sort().values
    mask = torch.ones(n, dtype=torch.bool)
    mask[valid_idx] = False
    return _both_parts(torch.nonzero(mask).flatten(), valid_idx, valid_fraction)


def _both_parts(train_idx: torch.Tensor, valid_idx: torch.Tensor,
                valid_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The split, once it is known that neither part is empty (training on nothing fails much later)."""
    if len(train_idx) == 0 or len(valid_idx) == 0:
        raise DataError(f"--valid-fraction {valid_fraction:g} of {len(train_idx) + len(valid_idx)} examples leaves "
                        f"{len(train_idx)} for training and {len(valid_idx)} for validation; each needs at least one")
    return train_idx, valid_idx


def shard_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """``[start, stop)`` of part ``rank`` when ``n`` items are cut in ``world`` consecutive parts whose sizes
    differ by at most one: ``start = ⌊n·rank/world⌋``."""
    return n * rank // world, n * (rank + 1) // world
