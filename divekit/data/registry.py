"""The image datasets, by name or by folder, found and fetched by ``divekit.data.sources``.

Lookup order for a dataset ``name`` (first hit wins): an explicit ``data_dir`` (``--data-dir``), ``$DIVEKIT_DATA``,
the user cache (``$DIVEKIT_CACHE`` or ``~/.cache/divekit``), ``/usr/share/datasets``, then a verified
download into the user cache (see ``divekit.data.sources``).

A directory holding the four IDX files (``train-images…``, ``train-labels…``, ``t10k-images…`` or
``test-images…``, ``t10k-labels…``) can be used directly by giving its path instead of a name.
"""

from __future__ import annotations

import os
from pathlib import Path

from divekit.data import sources
from divekit.data.catalog import FASHION_CLASSES, IDX_ROLES, idx_files_in, of_kind
from divekit.data.sources import DEBIAN_ROOT, MINI_DIR, DatasetSpec, RemoteFile, cache_dir
from divekit.errors import DataError

__all__ = ["DATASETS", "DEBIAN_ROOT", "FASHION_CLASSES", "MINI_DIR", "ROLES", "DatasetSpec", "RemoteFile",
           "cache_dir", "candidate_dirs", "find_local", "idx_files_in", "locate"]

ROLES = IDX_ROLES
DATASETS: dict[str, DatasetSpec] = of_kind("images")


def _spec(name: str) -> DatasetSpec:
    """The known dataset ``name``, or a folder of that name holding IDX files."""
    return DATASETS.get(name) or DatasetSpec(name, name, "images", name, {}, layout=idx_files_in)


def candidate_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for dataset ``name``, in lookup order."""
    return sources.candidate_dirs(_spec(name), data_dir)


def find_local(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """The dataset's files from the first directory in lookup order that has all four, else None.

    Raises:
        ConfigError: ``data_dir`` is not a folder.
    """
    return sources.find(_spec(name), data_dir, IDX_ROLES)


def locate(name_or_path: str, data_dir: str | os.PathLike | None = None,
           download: bool = True) -> tuple[str, dict[str, Path]]:
    """Resolve a dataset name or a directory path to ``(dataset name, files by role)``.

    Raises:
        ConfigError: ``data_dir`` is not a folder.
        DataError: unknown name, a path that does not exist, or data nowhere to be found.
    """
    if name_or_path in DATASETS:
        return name_or_path, sources.locate(DATASETS[name_or_path], data_dir, download)
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(DATASETS)
        if os.sep in name_or_path or name_or_path.startswith("."):
            raise DataError(f"data directory {name_or_path!r} does not exist (absolute path tried: "
                            f"{path.resolve()}; current directory: {Path.cwd()})")
        raise DataError(f"unknown dataset {name_or_path!r}: expected one of {known}, or a directory "
                        f"holding the four IDX files (tried {path.resolve()})")
    files = idx_files_in(path) if path.is_dir() else None
    if files is None:
        raise DataError(f"{path.resolve()}: {_not_a_dataset(path)}")
    return path.name, files


def _not_a_dataset(path: Path) -> str:
    """What ``path`` (no kind of data divekit reads) holds instead, and the layouts ``--data`` takes."""
    from divekit.data.folders import IMAGE_EXTENSIONS

    if not path.is_dir():
        return ("a file; --data takes a dataset name, a .csv file, or a folder: class folders of images or of .txt "
                "files, or the four IDX files")
    names = [f.name.lower() for f in path.iterdir() if f.is_file() and not f.name.startswith(".")]
    for what, suffixes in (("images", IMAGE_EXTENSIONS), ("texts", (".txt",))):
        if any(n.endswith(suffixes) for n in names):
            return (f"its {what} are not in class folders: put each class's {what} in a subfolder named after the "
                    f"class ({path.name}/<class>/…), or use train/ and test/ folders of such class folders")
    return ("expected class folders of images or of .txt files, or the four IDX files train-images*, "
            "train-labels*, t10k-images* (or test-images*), t10k-labels* (or test-labels*)")
