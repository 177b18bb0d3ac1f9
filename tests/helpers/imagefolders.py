"""Image folders made from real images (the bundled Fashion-MNIST sample), and hand-made broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from divekit.data.images import load_dataset


def fashion(split: str = "train"):
    """The bundled Fashion-MNIST sample: (uint8 images [N, 28, 28], labels [N], class names)."""
    ds = load_dataset("fashion-mnist-mini", split)
    return ds.images[:, 0].numpy(), ds.labels.numpy(), [c.replace(" ", "_") for c in ds.classes]


def write_split(root: Path, split: str, per_class: int, fmt: str = "png", start: int = 0) -> list[Path]:
    """``per_class`` real images of each class of ``split`` as files ``root/<class>/<index>.<fmt>``."""
    images, labels, classes = fashion(split)
    written = []
    for k, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(labels == k)[start:start + per_class]:
            path = folder / f"{i:05d}.{fmt}"
            Image.fromarray(images[i]).save(path, **({"quality": 95} if fmt == "jpg" else {}))
            written.append(path)
    return written


def fashion_folder(root: Path, train_per_class: int = 60, test_per_class: int = 20, fmt: str = "png") -> Path:
    """``root/train/<class>/…`` and ``root/test/<class>/…`` of real Fashion-MNIST images."""
    write_split(root / "train", "train", train_per_class, fmt)
    write_split(root / "test", "test", test_per_class, fmt)
    return root


def colour_folder(root: Path, per_class: int = 40, classes: int = 4, seed: int = 0) -> Path:
    """Real images made colour and of sizes that differ per image: each class's pictures tinted in that class's
    colour (so colour carries the class as well as shape), scaled to a random size from 20 to 48 pixels a side
    (not square), some saved as RGBA PNG, some as JPEG."""
    rng = np.random.default_rng(seed)
    images, labels, names = fashion("train")
    tints = rng.uniform(0.3, 1.0, (classes, 3))
    for k in range(classes):
        folder = root / names[k]
        folder.mkdir(parents=True, exist_ok=True)
        for j, i in enumerate(np.flatnonzero(labels == k)[:per_class]):
            rgb = (images[i][:, :, None] * tints[k]).astype(np.uint8)
            w, h = (int(v) for v in rng.integers(20, 49, 2))
            im = Image.fromarray(rgb, "RGB").resize((w, h), Image.Resampling.BICUBIC)
            if j % 3 == 0:
                im.putalpha(255)
                im.save(folder / f"{i:05d}.png")
            else:
                im.save(folder / f"{i:05d}.jpg", quality=92)
    return root


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A small valid PNG whose header claims ``width × height`` pixels (a decompression bomb's header)."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]  # chunk type + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def truncated(path: Path, source: Path) -> Path:
    """The first half of the image file ``source``."""
    data = source.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path
