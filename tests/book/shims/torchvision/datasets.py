"""``FashionMNIST`` read from the IDX files torchvision would have downloaded (``<root>/FashionMNIST/raw``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from divekit.data.idx import read_idx

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(raw: Path, name: str) -> Path:
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"torchvision shim: {raw / name} not found (the runner lays it out from $DIVEKIT_DATA; "
                            f"this stand-in never downloads)")


class FashionMNIST(Dataset):
    """``(transform(image uint8 [28, 28]), label int)`` pairs; ``download`` is accepted and ignored."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        raw = Path(root) / "FashionMNIST" / "raw"
        images, labels = (_find(raw, name) for name in _FILES[bool(train)])
        self.data = torch.from_numpy(read_idx(images).copy())
        self.targets = torch.from_numpy(read_idx(labels).astype("int64"))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
