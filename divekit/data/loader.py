"""Tensor-resident batch loaders.

The whole split lives in one uint8 tensor. Each epoch draws a seeded permutation; a batch is an index
slice, converted to float, normalised and (optionally) augmented on the compute device. No per-sample
Python, no worker processes. Given the seed and the epoch number the batches are always the same, which
is what makes runs reproducible and resumable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from divekit.data.split import shard_range


@dataclass(frozen=True)
class Augment:
    """Per-batch augmentation: random crop after zero padding of ``crop_pad`` pixels, horizontal flip."""

    crop_pad: int = 0
    hflip: bool = False

    @property
    def active(self) -> bool:
        return self.crop_pad > 0 or self.hflip


def crop_offsets(b: int, pad: int, gen: torch.Generator, span: tuple[int, int] | None = None) -> torch.Tensor:
    """Random offsets for ``random_crop``: int64 ``[2, b, 1]`` (rows, then columns), each in ``[0, 2 * pad]``.

    ``span = (start, total)``: the ``b`` images are rows ``start … start+b`` of a batch of ``total``; the offsets
    are drawn for the whole batch and sliced, so a shard gets exactly what it would get inside the whole batch.
    """
    start, total = span or (0, b)
    return torch.randint(0, 2 * pad + 1, (2, total, 1), generator=gen)[:, start:start + b]


def shift_crop(x: torch.Tensor, pad: int, offsets: torch.Tensor) -> torch.Tensor:
    """Shift each image of ``x [B, C, H, W]`` by its ``offsets`` (from ``crop_offsets``, on ``x``'s device) minus
    ``pad``, zero-filling."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy, dx = offsets
    rows = (dy + torch.arange(h, device=x.device))[:, :, None]       # B, H, 1
    cols = (dx + torch.arange(w, device=x.device))[:, None, :]       # B, 1, W
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator, span: tuple[int, int] | None = None) -> torch.Tensor:
    """Shift each image of ``x [B, C, H, W]`` by its own random offset in ``[-pad, pad]``, zero-filling
    (``span`` as for ``crop_offsets``)."""
    return shift_crop(x, pad, crop_offsets(x.shape[0], pad, gen, span).to(x.device))


def flip_mask(b: int, gen: torch.Generator, span: tuple[int, int] | None = None) -> torch.Tensor:
    """Which of ``b`` images to mirror: bool ``[b]``, a fair coin each (``span`` as for ``crop_offsets``)."""
    start, total = span or (0, b)
    return torch.rand(total, generator=gen)[start:start + b] < 0.5


def flip_where(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images of ``x [B, C, H, W]`` where ``mask [B]`` (on ``x``'s device) is true."""
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def hflip(x: torch.Tensor, gen: torch.Generator, span: tuple[int, int] | None = None) -> torch.Tensor:
    """Mirror a random half of the images left-right (``span`` as for ``crop_offsets``)."""
    return flip_where(x, flip_mask(x.shape[0], gen, span).to(x.device))


def as_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x [B, C, H, W]`` in channels-last memory format.

    A one-channel image batch is laid out the same either way, and ``contiguous(memory_format=…)`` leaves its
    strides as they are; but torch reads the format from the strides, so such a batch is restrided (no copy).
    A model left in NCHW then runs its convolutions channels-last too (1.7× faster for the book's LeNet here).
    """
    if x.dim() == 4 and x.shape[1] == 1 and x.is_contiguous():
        return x.as_strided(x.shape, (x.shape[2] * x.shape[3], 1, x.shape[3], 1))
    return x.contiguous(memory_format=torch.channels_last)


class TensorLoader:
    """Batches of ``(x float [B, C, H, W], y int64 [B])`` from in-memory tensors.

    Args:
        images: ``uint8 [N, C, H, W]`` (or float, used as is before normalisation).
        labels: ``int64 [N]``.
        batch_size: examples per batch.
        shuffle: draw a new seeded permutation each epoch (training) or keep the stored order.
        seed: base seed; epoch ``e`` uses ``seed * 1_000_003 + e`` so any epoch can be replayed alone.
        mean, std: normalisation in [0, 1] pixel units: ``x = (pixel / 255 - mean) / std``.
        augment: optional per-batch augmentation (training only).
        device: where batches are produced; the data is moved there once.
        drop_last: skip a final incomplete batch.
        channels_last: return batches in channels-last memory format (faster convolutions on CPU).
        resize: optional ``(H, W)`` to which each batch is resized (bilinear), for models built for
            larger images.
        rank, world: for data-parallel training (``world`` processes): every batch of ``batch_size`` (the
            global batch) is cut into ``world`` consecutive shards and this loader yields shard ``rank``, with
            the augmentation it would get inside the whole batch. A last incomplete batch is cut into shards
            differing by at most one example, or skipped by all ranks when it has fewer than ``world``
            examples (every rank must take the same number of steps). Default: one process, whole batches.
            A shuffled loader also skips a last batch of one example per rank (batch norm cannot train on it).
        rows: the examples are ``images[rows]`` (``labels`` holds theirs): ``images`` stays where it is, say a
            memory-mapped cache larger than memory, and each batch is gathered from it and moved to ``device``.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, mean: float = 0.0, std: float = 1.0, augment: Augment | None = None,
                 device: str | torch.device = "cpu", drop_last: bool = False, channels_last: bool = False,
                 resize: tuple[int, int] | None = None, rank: int = 0, world: int = 1,
                 rows: torch.Tensor | None = None) -> None:
        if (len(images) if rows is None else len(rows)) != len(labels):
            raise ValueError(f"images ({len(images) if rows is None else len(rows)}) and labels ({len(labels)}) "
                             f"differ in length")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if not 0 <= rank < world or batch_size < world:
            raise ValueError(f"rank must be in [0, world={world}) and batch_size ≥ world, got rank {rank}, "
                             f"batch_size {batch_size}")
        self.device = torch.device(device)
        self.rows = rows.cpu() if rows is not None else None
        self.images = images.to(self.device) if rows is None else images
        self.labels = labels.to(self.device)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.scale = 1.0 / (255.0 * std) if images.dtype == torch.uint8 else 1.0 / std
        self.shift = mean / std
        self.augment = augment if augment is not None and augment.active else None
        self.drop_last, self.channels_last, self.resize = drop_last, channels_last, resize
        self.rank, self.world = rank, world
        self.epoch = 0
        # flips alone: keep the mirrored images next to the originals, so that a batch with flips is one
        # index_select (image i mirrored is row i + N) instead of a flip and a select per batch
        self.mirrored = torch.cat([self.images, self.images.flip(3)]) \
            if self.augment is not None and self.augment.hflip and not self.augment.crop_pad and rows is None else None

    def __len__(self) -> int:
        n = len(self.labels)
        # every rank needs an example of the last batch; a shuffled (training) loader skips a last batch of one
        # example per rank, which batch norm cannot normalise (PyTorch raises) and which says little anyway
        if self.drop_last or 0 < n % self.batch_size < self.world * (2 if self.shuffle else 1):
            return n // self.batch_size
        return -(-n // self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.labels)

    @property
    def pad_value(self) -> float:
        """What a black (0) pixel becomes in the yielded batches: the value crops pad and shifts fill with."""
        return -self.shift

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation and augmentation the next iteration replays."""
        self.epoch = epoch

    def order(self, epoch: int | None = None) -> torch.Tensor:
        """The example order of ``epoch`` (a permutation when shuffling, else ``arange``)."""
        n = len(self.labels)
        if not self.shuffle:
            return torch.arange(n)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + (self.epoch if epoch is None else epoch))
        return torch.randperm(n, generator=gen)

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels -> normalised float batch (on the loader's device)."""
        x = x.to(torch.float32).mul_(self.scale).sub_(self.shift)
        if self.resize is not None and tuple(x.shape[-2:]) != tuple(self.resize):
            x = torch.nn.functional.interpolate(x, size=self.resize, mode="bilinear", align_corners=False)
        return as_channels_last(x) if self.channels_last else x

    def batch_spans(self) -> list[tuple[int, int, int, int]]:
        """``(start, total, lo, hi)`` of each batch of an epoch: ``total`` examples from ``start`` in the epoch's
        order, of which this rank's shard is rows ``lo … hi``."""
        n, spans = len(self.labels), []
        for start in range(0, min(len(self) * self.batch_size, n), self.batch_size):
            total = min(self.batch_size, n - start)
            lo, hi = shard_range(total, self.rank, self.world) if self.world > 1 else (0, total)
            spans.append((start, total, lo, hi))
        return spans

    def epoch_draws(self, spans: list[tuple[int, int, int, int]]) -> tuple[list, list]:
        """The epoch's augmentation, drawn up front in batch order (crop offsets, then flips, per batch) and moved
        to the device in one copy each: on a GPU a copy per batch would make the host wait for the device every
        step. Returns per-batch lists (``None`` where that augmentation is off)."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + 7_777_777)
        crop, flip = self.augment.crop_pad, self.augment.hflip
        crops, flips = [], []
        for _, total, lo, hi in spans:
            if crop:
                crops.append(crop_offsets(hi - lo, crop, gen, (lo, total)))
            if flip:
                flips.append(flip_mask(hi - lo, gen, (lo, total)))
        sizes = [hi - lo for _, _, lo, hi in spans]
        crops = list(torch.cat(crops, 1).to(self.device).split(sizes, 1)) if crops else [None] * len(spans)
        flips = list(torch.cat(flips).to(self.device).split(sizes)) if flips else [None] * len(spans)
        return crops, flips

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.order() if self.rows is not None else self.order().to(self.device)
        spans = self.batch_spans()
        crops, flips = self.epoch_draws(spans) if self.augment is not None else ([None] * len(spans),) * 2
        for (start, _, lo, hi), offsets, mask in zip(spans, crops, flips, strict=True):
            idx = order[start + lo:start + hi]
            if self.mirrored is not None:
                x = self.mirrored.index_select(0, idx + mask * len(self.images))
            else:
                x = self.images.index_select(0, idx) if self.rows is None else \
                    self.images.index_select(0, self.rows[idx]).to(self.device, non_blocking=True)
                if offsets is not None:
                    x = shift_crop(x, self.augment.crop_pad, offsets)
                if mask is not None:
                    x = flip_where(x, mask)
            yield self.convert(x), self.labels.index_select(0, idx if self.rows is None else idx.to(self.device))


class DataLoaderAdapter:
    """Wrap any iterable of ``(x, y)`` batches (e.g. a ``torch.utils.data.DataLoader`` over data too large
    for memory) so it yields the same normalised, device-placed batches as ``TensorLoader``.

    For a GPU, give the ``DataLoader`` ``pin_memory=True``: batches are moved with ``non_blocking=True``, which
    overlaps the copy with the device's work only from pinned (page-locked) host memory."""

    def __init__(self, loader: Iterable, mean: float = 0.0, std: float = 1.0,
                 device: str | torch.device = "cpu", channels_last: bool = False) -> None:
        self.loader, self.device, self.channels_last = loader, torch.device(device), channels_last
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    @property
    def pad_value(self) -> float:
        """What a black (0) pixel becomes in the yielded batches."""
        return -self.mean / self.std

    def set_epoch(self, epoch: int) -> None:
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True)
            x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
            x = (x - self.mean) / self.std
            if self.channels_last:
                x = as_channels_last(x)
            yield x, y.to(self.device, non_blocking=True)
