"""Image folders decoded once into a cache: one ``uint8 [N, C, H, W]`` file, memory-mapped, and ``index.json``
beside it, in the user cache (``$DIVEKIT_CACHE`` or ``~/.cache/divekit``, under ``image-folders/``).

The cache of a folder (and ``--image-size``) is keyed by the folder's file list with every file's size and
modification time: a run finds it again in a fraction of a second (the folder is listed, nothing is decoded),
and any change to a file rebuilds it. A build decodes in parallel (``divekit.data.decode``) into a new file and
then replaces ``index.json`` atomically, so a crash never leaves an index pointing at a half-written file, and a
lock keeps two runs from building the same cache at once. The user's folder is only ever read.

Runs read the pixels through the memory map: the operating system pages in what a batch needs and can drop it
again, so a dataset larger than memory trains, streaming from the cache file.
"""

from __future__ import annotations

import hashlib
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import numpy as np
import torch

from divekit.data.decode import CHUNK, Probe, chunks, decode_chunk, in_parallel, probe_chunk
from divekit.data.folders import Bad, Entry, FolderScan, bad_line, scan_folder, shown
from divekit.data.sources import cache_dir
from divekit.errors import DataError, DivekitError
from divekit.runs import read_json, write_json

CACHE_VERSION = 1
MAX_DEFAULT_SIDE = 64  # the default size's cap: the cache and a training step grow with the side squared


@dataclass
class Split:
    """One split of a folder: ``rows`` into the cache's images, class ``labels`` and file ``names``."""

    rows: torch.Tensor
    labels: torch.Tensor
    names: tuple[str, ...]


@dataclass
class FolderData:
    """An image folder as decoded: all its ``images`` (memory-mapped ``uint8 [N, C, H, W]``), its ``classes``
    (``train/``'s class folders, sorted) and ``splits`` (``train``, and ``valid``/``test`` when the folder has
    them); ``skipped``: what was left out, and why (``skip_bad``)."""

    root: Path
    layout: str
    images: torch.Tensor
    classes: tuple[str, ...]
    splits: dict[str, Split]
    size: tuple[int, int]
    channels: int
    cache: Path
    skipped: list[Bad] = field(default_factory=list)


def choose_size(probes: list[Probe], image_size: int | None) -> tuple[int, int]:
    """``(H, W)`` to decode at: ``image_size`` squared when given; else the images' own size when they all
    share one of at most ``MAX_DEFAULT_SIDE`` pixels a side; else the median shorter side, at most
    ``MAX_DEFAULT_SIDE``, squared."""
    if image_size:
        return image_size, image_size
    sizes = {(p.height, p.width) for p in probes}
    if len(sizes) == 1 and max(next(iter(sizes))) <= MAX_DEFAULT_SIDE:
        return next(iter(sizes))
    side = max(1, min(MAX_DEFAULT_SIDE, int(median(min(p.width, p.height) for p in probes))))
    return side, side


@contextmanager
def _locked(folder: Path):
    """Hold ``folder``'s build lock (another run building the same cache waits for it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # no fcntl (Windows): builds are not serialised
            pass
        yield


def cache_folder(root: Path, image_size: int | None) -> Path:
    key = hashlib.sha256(f"{os.path.realpath(root)}\0{image_size or 'auto'}".encode("utf-8", "surrogateescape"))
    return cache_dir() / "image-folders" / key.hexdigest()[:20]


def _probe_all(root: Path, entries: list[Entry]) -> list[Probe | str]:
    paths = [str(root / e.rel) for e in entries]
    parts = chunks(paths)
    results = in_parallel(probe_chunk, parts, [len(p) for p in parts], "reading image headers")
    return [r for part in results for r in part]


def build(root: Path, scan: FolderScan, image_size: int | None, skip_bad: bool, folder: Path) -> dict:
    """Decode the folder into ``folder`` and return its index (the module docstring says how)."""
    probes = _probe_all(root, scan.entries)
    bad = [Bad(e.rel, p) for e, p in zip(scan.entries, probes, strict=True) if isinstance(p, str)]
    if bad and not skip_bad:
        raise DataError(bad_line(bad, root))
    good = [(e, p) for e, p in zip(scan.entries, probes, strict=True) if not isinstance(p, str)]
    if not good:
        raise DataError(f"{shown(root)}: none of its {len(scan.entries)} files is an image Pillow can read")
    size = choose_size([p for _, p in good], image_size)
    channels = 3 if any(p.colour for _, p in good) else 1
    shape = (len(good), channels, *size)
    fingerprint = scan.fingerprint()
    file = folder / f"images-{fingerprint[:16]}-{channels}x{size[0]}x{size[1]}.u8"
    np.memmap(file, np.uint8, "w+", shape=shape).flush()  # the file at its full size (sparse until written)
    paths = [str(root / e.rel) for e, _ in good]
    jobs = [(part, size, channels, str(file), shape, start)
            for start, part in zip(range(0, len(paths), CHUNK), chunks(paths, CHUNK), strict=True)]
    print(f"decoding {len(paths):,} images of {shown(root)} at {size[1]}×{size[0]}, {channels} channel"
          f"{'s' if channels > 1 else ''}, into the cache {folder}", file=sys.stderr)
    results = in_parallel(decode_chunk, jobs, [len(j[0]) for j in jobs], "decoding images")
    reasons = [r for part, _ in results for r in part]
    rows = iter(range(len(good)))
    row_of = {e.rel: next(rows) for e, _ in good}
    reason_of = {**{b.rel: b.reason for b in bad},
                 **{e.rel: r for (e, _), r in zip(good, reasons, strict=True) if r is not None}}
    index = {"version": CACHE_VERSION, "root": os.fsdecode(root), "fingerprint": fingerprint, "size": list(size),
             "channels": channels, "file": file.name, "shape": list(shape),
             "entries": [[e.rel, e.split, e.label, -1 if e.rel in reason_of else row_of[e.rel],
                          reason_of.get(e.rel, "")] for e in scan.entries]}
    write_json(folder / "index.json", index)
    for old in folder.glob("images-*.u8"):  # earlier versions of this folder's cache
        if old.name != file.name:
            old.unlink(missing_ok=True)
    return index


def cached_index(root: Path, scan: FolderScan, image_size: int | None, skip_bad: bool) -> tuple[dict, Path]:
    """The folder's cache index, built if it is missing or stale; and the cache folder."""
    folder = cache_folder(root, image_size)
    with _locked(folder):
        path = folder / "index.json"
        if path.is_file():
            try:
                index = read_json(path)
            except DivekitError:  # unreadable: built again
                index = None
            if (isinstance(index, dict) and index.get("version") == CACHE_VERSION
                    and index.get("fingerprint") == scan.fingerprint() and (folder / index["file"]).is_file()):
                return index, folder
        return build(root, scan, image_size, skip_bad, folder), folder


def _class_problems(entries: list[list], layout: str) -> tuple[list[str], list[Bad]]:
    """``train``'s usable classes (two images or more), and the class folders that cannot be used."""
    counts: dict[str, int] = {}
    for _, split, label, row, _ in entries:
        if split == "train":
            counts[label] = counts.get(label, 0) + (row >= 0)
    prefix = "" if layout == "classes" else "train/"
    bad = [Bad(prefix + label, "class folder without a readable image") if n == 0 else
           Bad(prefix + label, "class with a single image: a class needs two or more, or its one image could be "
                               "either trained on or used to validate, not both") for label, n in counts.items()
           if n < 2]
    classes = sorted(label for label, n in counts.items() if n >= 2)
    others = sorted({(split, label) for _, split, label, _, _ in entries if split != "train" and label not in counts})
    names = {"valid": "validation", "test": "test"}
    bad += [Bad(f"{split}/{label}", f"class of the {names[split]} split that train/ does not have")
            for split, label in others]
    return classes, bad


def load_folder(path: str | os.PathLike, image_size: int | None = None, skip_bad: bool = False) -> FolderData:
    """The image folder ``path`` decoded (from the cache when it is current).

    Raises:
        DataError: a bad file or class folder (one line naming it) unless ``skip_bad``; no usable image.
    """
    root = Path(path)
    scan = scan_folder(root)
    if scan.bad and not skip_bad:
        raise DataError(bad_line(scan.bad, root))
    index, folder = cached_index(root, scan, image_size, skip_bad)
    entries = index["entries"]
    decode_bad = [Bad(rel, reason) for rel, _, _, row, reason in entries if row < 0]
    classes, class_bad = _class_problems(entries, scan.layout)
    bad = [*decode_bad, *class_bad]
    if bad and not skip_bad:
        raise DataError(bad_line(bad, root))
    if not classes:
        raise DataError(f"{shown(root)}: no class has two or more readable images")
    label_of = {c: i for i, c in enumerate(classes)}
    splits: dict[str, Split] = {}
    for split in scan.splits:
        kept = [(row, label_of[label], rel) for rel, s, label, row, _ in entries
                if s == split and row >= 0 and label in label_of]
        rows, labels, names = zip(*kept, strict=True) if kept else ((), (), ())
        splits[split] = Split(torch.tensor(rows, dtype=torch.int64), torch.tensor(labels, dtype=torch.int64),
                              tuple(names))
    # copy-on-write: a writable array for torch, whose writes (there are none) would never reach the file
    images = np.memmap(folder / index["file"], np.uint8, "c", shape=tuple(index["shape"]))
    return FolderData(root, scan.layout, torch.from_numpy(images), tuple(classes), splits, tuple(index["size"]),
                      index["channels"], folder, [*scan.bad, *bad])

