"""Image datasets held in memory as one uint8 tensor."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.data.idx import read_idx
from divekit.data.registry import DATASETS, locate
from divekit.errors import DataError


@dataclass
class ImageDataset:
    """Images ``uint8 [N, C, H, W]`` and labels ``int64 [N]`` of one split, kept in memory.

    ``mean``/``std`` are the per-pixel statistics (of the training split, in [0, 1] units) used to
    normalise batches. With ``rows``, the split's images are ``images[rows]`` of a larger array left where it
    is (a memory-mapped cache: a subset copies no pixels); ``names``: the examples' file names, if they have any.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str
    mean: float
    std: float
    source: str = ""
    rows: torch.Tensor | None = None
    names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image, ``(C, H, W)``."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def pixels(self) -> Any:
        """The split's images, indexable by example (``images``, or a view through ``rows``)."""
        return self.images if self.rows is None else RowView(self.images, self.rows)

    def subset(self, index: torch.Tensor, split: str | None = None) -> ImageDataset:
        """A new dataset holding the rows ``index`` (same classes and statistics)."""
        names = tuple(self.names[i] for i in index.tolist()) if self.names is not None else None
        if self.rows is not None:
            return replace(self, labels=self.labels[index], split=split or self.split, rows=self.rows[index],
                           names=names)
        return ImageDataset(self.images[index], self.labels[index], self.classes, self.name,
                            split or self.split, self.mean, self.std, self.source, names=names)


@dataclass
class RowView:
    """Example ``i`` is ``images[rows[i]]``: a split of a larger (memory-mapped) array, copying nothing."""

    images: torch.Tensor
    rows: torch.Tensor

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[int(self.rows[i])]


def _images_to_nchw(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:  # N, H, W, C as some IDX exporters write colour images
        return array.transpose(0, 3, 1, 2)
    raise DataError(f"{path}: expected images of shape N×H×W (or N×H×W×C), found {array.shape}")


def read_split(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split's images and labels and check that they belong together."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected uint8 pixels, found {images.dtype}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-D label file, found shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    if labels.size and labels.min() < 0:
        raise DataError(f"{labels_path}: negative label {labels.min()}")
    x = torch.from_numpy(np.ascontiguousarray(_images_to_nchw(images, images_path)))
    return x, torch.from_numpy(labels.astype(np.int64))


def load_dataset(name: str, split: str = "train", data_dir: str | os.PathLike | None = None,
                 download: bool = True) -> ImageDataset:
    """Load one split (``train`` or ``test``) of a known dataset or of a directory of IDX files.

    Args:
        name: a registry name (``fashion-mnist``, ``mnist``, ``kmnist``, ``fashion-mnist-mini``) or a path.
        split: ``"train"`` or ``"test"``.
        data_dir: searched first (see ``divekit.data.registry``).
        download: allow a download into the user cache when the data is nowhere local.
    """
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    ds_name, files = locate(name, data_dir, download=download)
    x, y = read_split(files[f"{split}_images"], files[f"{split}_labels"])
    spec = DATASETS.get(ds_name)
    if spec is not None:
        classes, mean, std = spec.classes, spec.mean, spec.std
    else:  # a user directory: classes are the label values, statistics from its training images
        train_y = y if split == "train" else read_split(files["train_images"], files["train_labels"])[1]
        classes = tuple(str(i) for i in range(int(train_y.max()) + 1 if len(train_y) else 0))
        ref = x if split == "train" else read_split(files["train_images"], files["train_labels"])[0]
        sample = ref[:10_000].float().div_(255)
        mean, std = float(sample.mean()), float(sample.std().clamp_min(1e-3))
    if len(y) and int(y.max()) >= len(classes):
        raise DataError(f"{files[f'{split}_labels']}: label {int(y.max())} outside the {len(classes)} classes "
                        f"of {ds_name}")
    return ImageDataset(x, y, classes, ds_name, split, mean, std, str(files[f"{split}_images"].parent))
