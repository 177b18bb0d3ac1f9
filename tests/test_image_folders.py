"""Image folders as data: every format and mode decoded as stated, the size policy, the decode-once cache
(reused, rebuilt on change, the user's folder never written) and every kind of bad file, refused with one line
naming it or skipped and listed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from divekit.data import imagecache
from divekit.data.decode import decode, probe
from divekit.data.folders import is_image_folder, scan_folder
from divekit.data.imagecache import load_folder
from divekit.data.loader import TensorLoader
from divekit.errors import DataError
from tests.helpers.imagefolders import fashion, png_with_size, truncated, write_split

GRADIENT = (np.arange(24 * 32).reshape(24, 32) % 251).astype(np.uint8)  # 32 wide, 24 high: not symmetric


def test_every_format_and_mode_decodes_to_the_stated_pixels(tmp_path):
    rgb = np.stack([GRADIENT, 255 - GRADIENT, GRADIENT // 2], -1)
    Image.fromarray(GRADIENT).save(tmp_path / "grey.png")
    Image.fromarray(GRADIENT).save(tmp_path / "grey.bmp")
    Image.fromarray(rgb).save(tmp_path / "rgb.webp", lossless=True)
    rgba = Image.fromarray(rgb).convert("RGBA")
    rgba.putalpha(0)  # fully transparent: the colour must survive, the alpha is dropped, not blended
    rgba.save(tmp_path / "rgba.png")
    Image.fromarray(GRADIENT.astype(np.uint16) * 257).save(tmp_path / "deep.png")  # mode I;16
    Image.fromarray(GRADIENT).convert("P").save(tmp_path / "palette.png")
    frames = [Image.fromarray(GRADIENT).convert("P"), Image.fromarray(255 - GRADIENT).convert("P")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    for name in ("grey.png", "grey.bmp", "deep.png", "palette.png", "anim.gif"):
        assert not probe(tmp_path / name).colour, name
        assert np.array_equal(decode(tmp_path / name, (24, 32), 1)[0], GRADIENT), name
    for name in ("rgb.webp", "rgba.png"):
        assert probe(tmp_path / name).colour
        assert np.array_equal(decode(tmp_path / name, (24, 32), 3), rgb.transpose(2, 0, 1)), name
    assert np.array_equal(decode(tmp_path / "grey.png", (24, 32), 3), np.stack([GRADIENT] * 3))  # grey in colour


def test_exif_orientation_is_applied(tmp_path):
    im = Image.fromarray(np.stack([GRADIENT] * 3, -1))
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    im.save(tmp_path / "turned.jpg", exif=exif, quality=100, subsampling=0)
    p = probe(tmp_path / "turned.jpg")
    assert (p.width, p.height) == (24, 32)
    shown = decode(tmp_path / "turned.jpg", (32, 24), 1)[0].astype(int)
    assert np.abs(shown - np.rot90(GRADIENT, -1)).mean() < 2  # JPEG: close, not exact


def test_size_policy_covers_and_crops_the_centre_and_leaves_the_right_size_alone(tmp_path):
    Image.fromarray(GRADIENT).save(tmp_path / "g.png")
    expected = np.asarray(ImageOps.fit(Image.fromarray(GRADIENT), (12, 12), Image.Resampling.BICUBIC))
    assert np.array_equal(decode(tmp_path / "g.png", (12, 12), 1)[0], expected)
    images, _, _ = fashion("test")
    Image.fromarray(images[0]).save(tmp_path / "f.png")
    assert np.array_equal(decode(tmp_path / "f.png", (28, 28), 1)[0], images[0])  # untouched, bit for bit


def _snapshot(root: Path) -> dict[str, tuple]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_cache_is_reused_rebuilt_on_change_and_the_folder_never_written(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    write_split(root / "train", "train", 5)
    write_split(root / "test", "test", 3)
    before = _snapshot(root)
    first = load_folder(root)
    assert first.images.shape[1:] == (1, 28, 28) and len(first.splits["train"].rows) == 50
    images, labels, _ = fashion("test")
    row = int(first.splits["test"].rows[0])
    name = first.splits["test"].names[0]
    assert np.array_equal(first.images[row, 0].numpy(), images[int(Path(name).stem)])

    def no_decoding(*_):
        raise AssertionError("decoded again although nothing changed")

    monkeypatch.setattr(imagecache, "in_parallel", no_decoding)
    again = load_folder(root)
    assert torch.equal(again.images, first.images)
    monkeypatch.undo()
    assert _snapshot(root) == before and len(list(tmp_path.iterdir())) == 1
    os.utime(next((root / "train").rglob("*.png")), ns=(1, 1))  # touched: same bytes, another time
    monkeypatch.setattr(imagecache, "in_parallel", no_decoding)
    with pytest.raises(AssertionError, match="decoded again"):
        load_folder(root)


def test_a_folder_of_class_folders_is_an_image_folder(tmp_path):
    write_split(tmp_path / "flat", "train", 2)
    (tmp_path / "idx").mkdir()
    assert is_image_folder(tmp_path / "flat") and not is_image_folder(tmp_path / "idx")
    scan = scan_folder(tmp_path / "flat")
    assert scan.layout == "classes" and scan.splits == ("train",) and len(scan.entries) == 20


def _bad_case(root: Path, case: str, outside: Path) -> str:
    """Break the folder ``root`` (classes a_class, b_class, c_class) in one way; returns the bad path."""
    a = root / "train" / "a_class"
    if case == "corrupt":
        (a / "x.png").write_bytes(os.urandom(500))
        return str(a / "x.png")
    if case == "truncated":
        return str(truncated(a / "half.png", next(a.glob("*.png"))))
    if case == "not an image":
        (a / "notes.txt").write_text("this is not a picture\n")
        return str(a / "notes.txt")
    if case == "bomb":
        return str(png_with_size(a / "bomb.png", 20_000, 20_000))
    if case == "empty class":
        (root / "train" / "d_class").mkdir()
        return str(root / "train" / "d_class")
    if case == "single image":
        (root / "train" / "d_class").mkdir()
        Image.fromarray(GRADIENT).save(root / "train" / "d_class" / "one.png")
        return str(root / "train" / "d_class")
    if case == "symlink out":
        (a / "link.png").symlink_to(outside)
        return str(a / "link.png")
    name = b"line\nbreak.png" if case == "newline name" else b"caf\xe9.png"
    with open(os.path.join(os.fsencode(a), name), "wb") as f:
        f.write((next(a.glob("*.png"))).read_bytes())
    return ascii(os.fsdecode(os.path.join(os.fsencode(a), name)))


BAD_CASES = {"corrupt": "not an image file Pillow can read", "truncated": "cannot decode",
             "not an image": "not an image file Pillow can read", "bomb": "beyond the pixel limit",
             "empty class": "empty class folder", "single image": "class with a single image",
             "symlink out": "symlink leading outside the folder", "newline name": "control character",
             "non-UTF-8 name": "not valid UTF-8"}


@pytest.mark.parametrize("case", BAD_CASES)
def test_each_bad_file_is_one_line_naming_it_or_skipped_and_listed(tmp_path, case):
    root = tmp_path / "data"
    for k, cls in enumerate(("a_class", "b_class", "c_class")):
        folder = root / "train" / cls
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.roll(GRADIENT, 5 * i + k, 1)).save(folder / f"{i}.png")
    Image.fromarray(GRADIENT).save(tmp_path / "outside.png")
    bad = _bad_case(root, case, tmp_path / "outside.png")
    with pytest.raises(DataError) as e:
        load_folder(root)
    message = str(e.value)
    assert "\n" not in message and message.startswith(bad + ": ") and BAD_CASES[case] in message, message
    assert "--skip-bad" in message
    data = load_folder(root, skip_bad=True)
    assert [b.reason for b in data.skipped if BAD_CASES[case] in b.reason], data.skipped
    assert data.classes == ("a_class", "b_class", "c_class") and len(data.splits["train"].rows) == 9


def test_split_folders_and_a_test_class_that_train_lacks(tmp_path):
    write_split(tmp_path / "train", "train", 4)
    write_split(tmp_path / "val", "train", 2, start=4)
    write_split(tmp_path / "test", "test", 2)
    data = load_folder(tmp_path)
    assert set(data.splits) == {"train", "valid", "test"} and len(data.splits["valid"].rows) == 20
    Image.fromarray(GRADIENT).save(tmp_path / "test" / "hat.png")  # a file at a split's top level is no class's
    (tmp_path / "test" / "hat").mkdir()
    Image.fromarray(GRADIENT).save(tmp_path / "test" / "hat" / "h.png")
    with pytest.raises(DataError, match=r"test/hat: class of the test split that train/ does not have"):
        load_folder(tmp_path)


def test_batches_stream_from_the_memory_map_as_from_memory(tmp_path):
    write_split(tmp_path, "train", 8)
    data = load_folder(tmp_path)
    rows, labels = data.splits["train"].rows[::2], data.splits["train"].labels[::2]
    streamed = TensorLoader(data.images, labels, 16, shuffle=True, seed=3, mean=0.3, std=0.3, rows=rows)
    held = TensorLoader(data.images[rows].clone(), labels, 16, shuffle=True, seed=3, mean=0.3, std=0.3)
    for (xs, ys), (xh, yh) in zip(streamed, held, strict=True):
        assert torch.equal(xs, xh) and torch.equal(ys, yh)
