"""Image folders: a folder of class subfolders (``cats/``, ``dogs/`` …), or ``train/``, ``val/`` (or ``valid/``)
and ``test/``, each holding class subfolders. This module finds the files and what is wrong with the folder's
layout; it reads no pixels and imports neither torch nor Pillow (``divekit.data.decode`` decodes,
``divekit.data.imagecache`` keeps the decoded pixels).

What is refused, each as one line naming the file (or, with ``--skip-bad``, skipped and listed in the run):

- a symlink leading outside the folder, a broken symlink, something that is not a regular file (a pipe …);
- a name that is not UTF-8 or holds a control character (a newline, a tab …): such names cannot be written on
  one line of an error, a CSV or a JSON file without changing them;
- an empty class folder; later, once the images are read, a class with fewer than two images in ``train/``
  (one to train on, one to validate with) and a class of ``val/``/``test/`` that ``train/`` does not have.

Hidden files and folders (names starting with ``.``, as ``.DS_Store``) are left out; files in a folder's top
level are not images of any class and are left out too. Nothing in the folder is ever written.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from divekit.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")
SPLIT_NAMES = {"train": "train", "val": "valid", "valid": "valid", "validation": "valid", "test": "test"}


@dataclass(frozen=True)
class Entry:
    """One file of the folder: its path relative to the folder, split, class, size and modification time."""

    rel: str
    split: str
    label: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Bad:
    """A file or folder that cannot be used, and why (one line)."""

    rel: str
    reason: str


@dataclass
class FolderScan:
    """The folder's files: ``entries`` in a stable order (split, class, path), ``bad`` what cannot be used."""

    root: Path
    layout: str  # "classes" or "splits"
    splits: tuple[str, ...]
    entries: list[Entry] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)

    def fingerprint(self) -> str:
        """A hash of the file list with each file's size and modification time: it changes when a file is
        added, removed, renamed, rewritten or touched."""
        lines = [f"{e.rel}\0{e.split}\0{e.label}\0{e.size}\0{e.mtime_ns}" for e in self.entries]
        lines += [f"bad\0{b.rel}\0{b.reason}" for b in self.bad]
        return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def shown(name: str | os.PathLike) -> str:
    """``name`` as it can be printed on one line: itself, or escaped as Python writes it when it holds control
    characters or bytes that are not UTF-8."""
    text = os.fspath(name)
    return text if name_problem(text) is None else ascii(text)


def name_problem(name: str) -> str | None:
    """Why the file name ``name`` cannot be used, or None."""
    odd = _ODD.search(name)
    if odd is None:
        return None
    if "\ud800" <= odd.group() <= "\udfff":  # a byte that is not UTF-8, as os.fsdecode keeps it
        return "its name is not valid UTF-8"
    return "its name holds a control character (a newline, a tab …)"


_ODD = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _visible_dirs(path: Path) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted((e for e in it if not e.name.startswith(".") and e.is_dir(follow_symlinks=True)),
                      key=lambda e: e.name)


def split_dirs(root: Path) -> dict[str, Path] | None:
    """``{split: folder}`` when ``root`` has ``train/`` (with ``val/``/``valid/`` and ``test/`` beside it), else
    None (a folder of class subfolders)."""
    dirs = {e.name: Path(e.path) for e in _visible_dirs(root)}
    if "train" not in dirs:
        return None
    others = sorted(name for name in dirs if name not in SPLIT_NAMES)
    if others:
        raise DataError(f"{root}: has train/, so its folders should be train/, val/ (or valid/) and test/, but it "
                        f"also has {', '.join(shown(o) + '/' for o in others[:5])}; move them out, or give the "
                        f"folders holding the classes")
    splits: dict[str, Path] = {}
    for name, path in dirs.items():
        split = SPLIT_NAMES[name]
        if split in splits:
            raise DataError(f"{root}: has both {splits[split].name}/ and {name}/; keep one validation folder")
        splits[split] = path
    return splits


def layout_of(root: str | os.PathLike) -> tuple[str, tuple[str, ...]]:
    """``("splits", splits present)`` or ``("classes", ("train",))``, without reading any file."""
    dirs = split_dirs(Path(root))
    return ("classes", ("train",)) if dirs is None else ("splits", tuple(s for s in ("train", "valid", "test")
                                                                         if s in dirs))


def is_image_folder(path: str | os.PathLike) -> bool:
    """True for a folder whose class subfolders (or ``train/``'s) hold image files, judged by the extensions of
    the first files found; reads no file, so it is cheap enough to tell kinds of data apart."""
    root = Path(path)
    if not root.is_dir():
        return False
    try:
        tops = _visible_dirs(root)
        names = {e.name for e in tops}
        if "train" in names:
            tops = _visible_dirs(root / "train")
        for top in tops[:20]:
            for _, _, files in os.walk(top.path):
                if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files[:50]):
                    return True
                if files:
                    break
    except OSError:
        return False
    return False


def _inside(path: str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


def _file_problem(entry: os.DirEntry, rel: str, root_real: str) -> tuple[str | None, os.stat_result | None]:
    """Why the file ``entry`` cannot be used (or None), and its status."""
    problem = name_problem(rel)
    if problem is None and entry.is_symlink():
        if not os.path.exists(entry.path):
            return f"broken symlink (to {shown(os.readlink(entry.path))})", None
        if not _inside(entry.path, root_real):
            return f"symlink leading outside the folder (to {shown(os.path.realpath(entry.path))})", None
    if problem is not None:
        return problem, None
    try:
        st = entry.stat()
    except OSError as e:
        return f"cannot read ({e.strerror})", None
    return (None, st) if stat.S_ISREG(st.st_mode) else ("not a regular file", None)


def _scan_class(folder: str, rel_folder: str, root_real: str, split: str, label: str, scan: FolderScan) -> None:
    """Add the files under one class folder (recursively, in sorted order; symlinked folders are not followed,
    those leading outside the folder are bad) to ``scan``. One ``scandir`` per folder and one ``stat`` per file:
    70,000 files are listed in a fraction of a second."""
    found = 0
    stack = [(folder, rel_folder)]
    while stack:
        path, rel = stack.pop()
        with os.scandir(path) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        subfolders = []
        for entry in entries:
            entry_rel = f"{rel}{os.sep}{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                subfolders.append((entry.path, entry_rel))
                continue
            if entry.is_symlink() and entry.is_dir():
                if not _inside(entry.path, root_real):
                    scan.bad.append(Bad(entry_rel, f"symlink leading outside the folder (to "
                                                   f"{shown(os.path.realpath(entry.path))})"))
                continue
            found += 1
            problem, st = _file_problem(entry, entry_rel, root_real)
            if problem is not None:
                scan.bad.append(Bad(entry_rel, problem))
            else:
                scan.entries.append(Entry(entry_rel, split, label, st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subfolders))
    if not found:
        scan.bad.append(Bad(rel_folder or ".", "empty class folder: it holds no image files"))


def scan_folder(path: str | os.PathLike) -> FolderScan:
    """Every file of the image folder ``path`` (see the module docstring), without reading any of them.

    Raises:
        DataError: ``path`` is not a folder, or holds no class folders.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{shown(root)}: not a folder")
    dirs = split_dirs(root)
    layout = "classes" if dirs is None else "splits"
    dirs = dirs or {"train": root}
    scan = FolderScan(root, layout, tuple(s for s in ("train", "valid", "test") if s in dirs))
    root_real = os.path.realpath(root)
    for split in scan.splits:
        classes = _visible_dirs(dirs[split])
        if split == "train" and not classes:
            raise DataError(f"{shown(dirs[split])}: no class folders in it (expected one subfolder per class, each "
                            f"holding that class's images)")
        for entry in classes:
            rel = os.path.relpath(entry.path, root)
            problem = name_problem(entry.name)
            if problem is None and entry.is_symlink() and not _inside(entry.path, root_real):
                problem = f"symlink leading outside the folder (to {shown(os.path.realpath(entry.path))})"
            if problem is not None:
                scan.bad.append(Bad(rel, f"class folder: {problem}"))
                continue
            _scan_class(entry.path, rel, root_real, split, entry.name, scan)
    return scan


def bad_line(bad: list[Bad], root: Path, more_hint: str = "") -> str:
    """The one-line error for the first of ``bad`` (with how many more there are)."""
    first = bad[0]
    more = f" ({len(bad) - 1} more bad file{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else ""
    return (f"{shown(root / first.rel)}: {first.reason}{more}; --skip-bad skips such files and lists them in "
            f"the run directory{more_hint}")


def input_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """The image files to predict on: each path of ``paths`` that is a file, and every file under each that is a
    folder (recursively, sorted, hidden files left out), in the order given. Returns ``(names as shown in the
    predictions, paths)``: a file's name is its path as given; a folder's files are named relative to it when it
    is the only path given, else as the folder's path joined with that.

    Raises:
        DataError: no path given, a path does not exist, a folder has no files, or a file is unusable (symlink
            leading outside the folder, odd name …), one line naming it.
    """
    many = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not many:
        raise DataError("no image files or folders given to predict on")
    names: list[str] = []
    files: list[str] = []
    for path in many:
        rel, found = _input_files(path)
        names += rel if len(many) == 1 or Path(path).is_file() else [os.path.join(os.fspath(path), r) for r in rel]
        files += found
    return names, files


def _input_files(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """``input_files`` for one path: names relative to a folder, a file's path as given."""
    root = Path(path)
    if root.is_file():
        return [os.fspath(path)], [os.fspath(root)]
    if not root.is_dir():
        raise DataError(f"{shown(root)}: no such image file or folder")
    scan = FolderScan(root, "inputs", ())
    _scan_class(os.fspath(root), "", os.path.realpath(root), "inputs", "", scan)
    bad = [b for b in scan.bad if b.rel != "."]  # "." : the folder itself, empty
    if bad:
        raise DataError(f"{shown(root / bad[0].rel)}: {bad[0].reason}")
    if not scan.entries:
        raise DataError(f"{shown(root)}: no files to predict on in it")
    return [e.rel for e in scan.entries], [os.fspath(root / e.rel) for e in scan.entries]
