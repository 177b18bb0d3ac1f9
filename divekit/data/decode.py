"""Decoding image files with Pillow: JPEG, PNG, BMP, GIF (first frame), WebP, TIFF; grey, RGB, RGBA, palette and
16-bit images, EXIF orientation applied. Every image comes out as ``uint8 [C, H, W]`` at one size:

- **channels**: grey images give one channel, colour ones three; a dataset with any colour image is decoded in
  colour throughout (grey images repeated over the three channels). Alpha is dropped (not blended); palette
  images are looked up; 16-bit images keep their top 8 bits (0…65535 → 0…255).
- **size policy**: each image is scaled, keeping its aspect ratio, until it covers ``H×W``, then the centre
  ``H×W`` is kept (Pillow's ``ImageOps.fit``, bicubic, antialiased when shrinking). An image of that size
  already is left as it is. JPEGs are decoded at a reduced scale first when that still covers ``H×W``.
- **pixel limit**: an image of more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels (89,478,485 unless changed) is
  refused before it is decoded, as Pillow's decompression-bomb check says.

Many files are decoded by worker processes (all cores), a chunk of files per task, with a progress bar.
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter: width and height swap
CHUNK = 256  # files per worker task: large enough that the task's overhead is small, small enough to balance
PARALLEL_FROM = 2000  # fewer files than this decode faster in this process than with workers started for them


class BadImage(Exception):
    """A file that cannot be used as an image; ``str(e)`` is the one-line reason."""


@dataclass(frozen=True)
class Probe:
    """What an image's header says: its size as displayed (EXIF orientation applied) and whether it is colour."""

    width: int
    height: int
    colour: bool


@contextmanager
def opened(path: str | Path):
    """``PIL.Image.open(path)`` with every failure as ``BadImage``: not an image, beyond the pixel limit (also
    the limit's warning zone, which Pillow only warns about), truncated or corrupt data."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                yield im
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)):,} pixels, " if found else ""
        raise BadImage(f"{size}beyond the pixel limit of {Image.MAX_IMAGE_PIXELS:,} pixels (a possible "
                       f"decompression bomb; PIL.Image.MAX_IMAGE_PIXELS sets the limit)") from None
    except UnidentifiedImageError:
        raise BadImage("not an image file Pillow can read (unknown or broken format)") from None
    except FileNotFoundError:
        raise BadImage("file not found (removed while being read?)") from None
    except Exception as e:  # truncated data, a broken stream, a bad header field … as each decoder words it
        raise BadImage(f"cannot decode ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})"
                       ) from None


def _orientation(im: Any) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # an unreadable EXIF block: the image is used as stored
        return 1


def is_colour(im: Any) -> bool:
    """Whether ``im`` needs three channels (a palette of greys does not)."""
    if im.mode in GREY_MODES:
        return False
    if im.mode in ("P", "PA"):
        palette = im.getpalette("RGB") or []
        return any(palette[i] != palette[i + 1] or palette[i] != palette[i + 2] for i in range(0, len(palette), 3))
    return True


def probe(path: str | Path) -> Probe:
    """The displayed size and colour of the image at ``path`` from its header (no pixels decoded)."""
    with opened(path) as im:
        w, h = im.size
        if _orientation(im) in SWAPPING_ORIENTATIONS:
            w, h = h, w
        return Probe(w, h, is_colour(im))


def _eight_bit(im: Any, channels: int) -> Any:
    """``im`` as 8-bit ``L`` (one channel) or ``RGB`` (three)."""
    from PIL import Image

    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im)
        if im.mode.startswith("I;16") or (im.mode == "I" and a.size and a.max() > 255):
            a = np.clip(a, 0, 65535).astype(np.uint32) >> 8  # 16 bits: keep the top 8
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    elif im.mode in ("P", "PA", "LA", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La"):
        im = im.convert("RGBA" if im.mode in ("P", "PA") else im.mode).convert("RGB" if channels == 3 else "L")
    return im.convert("RGB" if channels == 3 else "L")


def decode(path: str | Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """The image at ``path`` as ``uint8 [channels, H, W]`` for ``size = (H, W)`` (the module docstring says how)."""
    from PIL import Image, ImageOps

    height, width = size
    with opened(path) as im:
        if im.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that still covers the target
            w, h = im.size
            if _orientation(im) in SWAPPING_ORIENTATIONS:
                w, h = h, w
            scale = max(width / w, height / h)  # the same in the stored orientation
            if scale < 1:
                im.draft(im.mode, (math.ceil(im.size[0] * scale), math.ceil(im.size[1] * scale)))
        try:
            im.seek(0)  # the first frame of an animation
            pixels = ImageOps.exif_transpose(im)
            pixels = _eight_bit(pixels, channels)
            if pixels.size != (width, height):
                pixels = ImageOps.fit(pixels, (width, height), method=Image.Resampling.BICUBIC)
            array = np.asarray(pixels)
        except Exception as e:
            raise BadImage(f"cannot decode ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                           ) from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def probe_chunk(paths: Sequence[str]) -> list[Probe | str]:
    """``probe`` of each path, or the reason it cannot be used."""
    out: list[Probe | str] = []
    for p in paths:
        try:
            out.append(probe(p))
        except BadImage as e:
            out.append(str(e))
    return out


def decode_chunk(job: tuple[Sequence[str], tuple[int, int], int, str | None, tuple[int, ...], int]
                 ) -> tuple[list[str | None], np.ndarray | None]:
    """Decode ``paths`` at ``size`` with ``channels``; written into rows ``first …`` of the memory-mapped file
    ``target`` of ``shape`` when one is given (returns no pixels), else returned. The list holds, per path,
    None or the reason it could not be decoded (its row is left black)."""
    paths, size, channels, target, shape, first = job
    out = np.zeros((len(paths), channels, *size), np.uint8)
    reasons: list[str | None] = []
    for i, p in enumerate(paths):
        try:
            out[i] = decode(p, size, channels)
            reasons.append(None)
        except BadImage as e:
            reasons.append(str(e))
    if target is None:
        return reasons, out
    cache = np.memmap(target, np.uint8, "r+", shape=shape)
    cache[first:first + len(paths)] = out
    cache.flush()
    del cache
    return reasons, None


def in_parallel(fn: Callable[[Any], Any], jobs: list[Any], sizes: list[int], desc: str,
                workers: int | None = None) -> list[Any]:
    """``[fn(job) for job in jobs]``, in worker processes when there are many files (``sizes``: files per job),
    with a progress bar on a terminal. The workers read and decode files only (no torch), so forking this
    process is safe."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from divekit.options import cores

    total = sum(sizes)
    workers = workers or cores()
    bar = tqdm(total=total, desc=desc, unit="img", disable=None, file=sys.stderr, leave=False)
    try:
        if workers < 2 or total < PARALLEL_FROM:
            results = []
            for job, n in zip(jobs, sizes, strict=True):
                results.append(fn(job))
                bar.update(n)
            return results
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            futures = [pool.submit(fn, job) for job in jobs]
            for future, n in zip(futures, sizes, strict=True):
                future.result()
                bar.update(n)
            return [f.result() for f in futures]
    finally:
        bar.close()


def chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def decode_files(paths: Sequence[str], size: tuple[int, int], channels: int, skip_bad: bool = False
                 ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The images at ``paths`` as ``uint8 [N, channels, H, W]`` (see ``decode``), in parallel when many, and the
    ``(path, reason)`` of each file that is not a usable image: left out with ``skip_bad``, else an error.

    Raises:
        DataError: without ``skip_bad``, a file cannot be used as an image (the first such, named, with the count
            of the others).
    """
    from divekit.data.folders import shown
    from divekit.errors import DataError

    parts = chunks(list(paths))
    results = in_parallel(decode_chunk, [(p, size, channels, None, (), 0) for p in parts], [len(p) for p in parts],
                          "decoding images")
    reasons = [r for part, _ in results for r in part]
    bad = [(p, r) for p, r in zip(paths, reasons, strict=True) if r is not None]
    if bad and not skip_bad:
        more = "" if len(bad) == 1 else " (1 more file that is not an image)" if len(bad) == 2 else \
            f" ({len(bad) - 1} more files that are not images)"
        raise DataError(f"{shown(bad[0][0])}: {bad[0][1]}{more}; --skip-bad leaves such files out")
    arrays = [a for _, a in results]
    pixels = np.concatenate(arrays) if arrays else np.zeros((0, channels, *size), np.uint8)
    return pixels[[r is None for r in reasons]] if bad else pixels, bad
