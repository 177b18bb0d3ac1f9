"""K-fold cross-validation index sets (the test set is never part of them).

The training examples ``0..N-1`` are cut into ``k`` folds; round ``i`` trains on all folds but ``i`` and
validates on fold ``i``. Every example is validated exactly once. Fold sizes differ by at most one
(stratified: by at most one per class, so every fold keeps the class shares of the whole).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from divekit.errors import ConfigError


def _check(k: int, n: int) -> None:
    if not isinstance(k, int) or k < 2:
        raise ConfigError(f"--k must be an integer ≥ 2, got {k!r}")
    if k > n:
        raise ConfigError(f"--k {k} is more folds than the {n} training examples")


def _rounds(fold_of: torch.Tensor, k: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for i in range(k):
        in_fold = fold_of == i
        yield torch.nonzero(~in_fold).flatten(), torch.nonzero(in_fold).flatten()


class KFold:
    """``k`` folds of ``n`` examples, shuffled with ``seed`` (or contiguous, as the book, with ``shuffle=False``).

    ``split(n)`` yields ``(train_idx, valid_idx)`` int64 index tensors, sorted, disjoint, covering ``0..n-1``.
    """

    def __init__(self, k: int = 5, shuffle: bool = True, seed: int = 0) -> None:
        _check(k, k)
        self.k, self.shuffle, self.seed = k, shuffle, seed

    def fold_of(self, n: int) -> torch.Tensor:
        """``int64 [n]``: the fold of each example (fold sizes ``n // k`` or ``n // k + 1``)."""
        _check(self.k, n)
        fold = torch.arange(n) * self.k // n  # contiguous blocks with sizes differing by ≤ 1
        if self.shuffle:
            fold = fold[torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))]
        return fold

    def split(self, n: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return _rounds(self.fold_of(n), self.k)


class StratifiedKFold:
    """``k`` folds that keep each class's share: the members of each class (in seeded random order) are
    dealt to the folds in turn, continuing where the previous class stopped so fold sizes stay balanced.

    ``split(labels)`` yields ``(train_idx, valid_idx)`` like ``KFold.split``.
    """

    def __init__(self, k: int = 5, seed: int = 0) -> None:
        _check(k, k)
        self.k, self.seed = k, seed

    def fold_of(self, labels: torch.Tensor) -> torch.Tensor:
        labels = torch.as_tensor(labels)
        if labels.ndim != 1 or labels.dtype.is_floating_point:
            raise ConfigError(f"stratified k-fold needs integer class labels of shape [N], got {labels.dtype} "
                              f"{tuple(labels.shape)}")
        _check(self.k, len(labels))
        gen = torch.Generator().manual_seed(self.seed)
        fold = torch.empty(len(labels), dtype=torch.int64)
        offset = 0
        for c in torch.unique(labels):
            idx = torch.nonzero(labels == c).flatten()
            idx = idx[torch.randperm(len(idx), generator=gen)]
            fold[idx] = (torch.arange(len(idx)) + offset) % self.k
            offset = (offset + len(idx)) % self.k
        return fold

    def split(self, labels: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return _rounds(self.fold_of(labels), self.k)
