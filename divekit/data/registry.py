"""Known image datasets, where to find them, and how to read them into tensors.

Lookup order for a dataset ``name`` (first hit wins):

1. an explicit ``data_dir`` (``--data-dir``): ``data_dir/name/`` or ``data_dir`` itself;
2. ``$DIVEKIT_DATA/name/``;
3. the user cache, ``$DIVEKIT_CACHE`` or ``~/.cache/divekit`` (``$XDG_CACHE_HOME/divekit``), ``/name/``;
4. the Debian location ``/usr/share/datasets/name/``;
5. a download from the official URLs into the user cache (checksummed; see ``download.py``).

A directory holding the four IDX files (``train-images…``, ``train-labels…``, ``t10k-images…`` or
``test-images…``, ``t10k-labels…``) can be used directly by giving its path instead of a name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from divekit.errors import DataError

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_PATTERNS = {
    "train_images": ("train-images",),
    "train_labels": ("train-labels",),
    "test_images": ("t10k-images", "test-images"),
    "test_labels": ("t10k-labels", "test-labels"),
}
DEBIAN_ROOT = Path("/usr/share/datasets")
MINI_DIR = Path(__file__).parent / "mini"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name, and the SHA-256 of its decompressed content (and of the
    file as published, where known). Checking the content makes any faithful mirror acceptable,
    even one that recompressed the ``.gz``."""

    name: str
    content_sha256: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A known IDX image dataset."""

    name: str
    title: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    files: dict[str, RemoteFile]
    mean: float
    std: float
    bundled: bool = False
    extra: dict = field(default_factory=dict)


def _files(hashes: dict[str, tuple[str | None, str | None]]) -> dict[str, RemoteFile]:
    names = dict(zip(ROLES, ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), strict=True))
    return {role: RemoteFile(names[role], *hashes.get(role, (None, None))) for role in ROLES}


FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle boot")

DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist": DatasetSpec(
        "fashion-mnist", "Fashion-MNIST (Zalando, MIT licence)", FASHION_CLASSES,
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _files({
            "train_images": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", None),
            "train_labels": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", None),
            "test_images": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", None),
            "test_labels": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", None),
        }), mean=0.2860, std=0.3530),
    "mnist": DatasetSpec(
        "mnist", "MNIST handwritten digits (LeCun, Cortes, Burges)", tuple(str(i) for i in range(10)),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        _files({
            "train_images": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train_labels": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "test_images": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "test_labels": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        }), mean=0.1307, std=0.3081),
    "kmnist": DatasetSpec(
        "kmnist", "Kuzushiji-MNIST (CODH, CC BY-SA 4.0)",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _files({
            "train_images": (None, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
            "train_labels": (None, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
            "test_images": (None, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
            "test_labels": (None, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
        }), mean=0.1918, std=0.3483),
    "fashion-mnist-mini": DatasetSpec(
        "fashion-mnist-mini", "Fashion-MNIST stratified sample bundled with divekit (500/class train, "
        "100/class test)", FASHION_CLASSES, (), _files({}), mean=0.2860, std=0.3530, bundled=True),
}


def cache_dir() -> Path:
    """The user cache: ``$DIVEKIT_CACHE``, else ``$XDG_CACHE_HOME/divekit``, else ``~/.cache/divekit``."""
    if os.environ.get("DIVEKIT_CACHE"):
        return Path(os.environ["DIVEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "divekit"


def idx_files_in(directory: Path) -> dict[str, Path] | None:
    """The four IDX files in ``directory`` by role, or None if any is missing (``.gz`` preferred)."""
    if not directory.is_dir():
        return None
    found: dict[str, Path] = {}
    names = sorted(p.name for p in directory.iterdir() if p.is_file())
    for role, prefixes in _PATTERNS.items():
        hits = [n for n in names if n.startswith(prefixes) and ("idx" in n or n.endswith((".gz", "ubyte")))]
        if not hits:
            return None
        hits.sort(key=lambda n: (not n.endswith(".gz"), len(n)))
        found[role] = directory / hits[0]
    return found


def candidate_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for dataset ``name``, in lookup order (see module docstring)."""
    spec = DATASETS.get(name)
    if spec is not None and spec.bundled:
        return [MINI_DIR]
    dirs: list[Path] = []
    if data_dir is not None:
        dirs += [Path(data_dir) / name, Path(data_dir)]
    if os.environ.get("DIVEKIT_DATA"):
        dirs.append(Path(os.environ["DIVEKIT_DATA"]) / name)
    dirs += [cache_dir() / name, DEBIAN_ROOT / name]
    return dirs


def find_local(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """The dataset's files from the first directory in lookup order that has all four, else None."""
    for d in candidate_dirs(name, data_dir):
        files = idx_files_in(d)
        if files is not None:
            return files
    return None


def locate(name_or_path: str, data_dir: str | os.PathLike | None = None,
           download: bool = True) -> tuple[str, dict[str, Path]]:
    """Resolve a dataset name or a directory path to ``(dataset name, files by role)``.

    Raises:
        DataError: unknown name, a path that does not exist, or data nowhere to be found.
    """
    if name_or_path in DATASETS:
        files = find_local(name_or_path, data_dir)
        if files is None and download:
            from divekit.data.download import download_dataset

            files = download_dataset(DATASETS[name_or_path])
        if files is None:
            tried = ", ".join(str(d.resolve()) for d in candidate_dirs(name_or_path, data_dir))
            raise DataError(f"dataset {name_or_path!r} not found (tried {tried}); pass --data-dir, set "
                            f"DIVEKIT_DATA, or allow the download")
        return name_or_path, files
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(DATASETS)
        if os.sep in name_or_path or name_or_path.startswith("."):
            raise DataError(f"data directory {name_or_path!r} does not exist (absolute path tried: "
                            f"{path.resolve()}; current directory: {Path.cwd()})")
        raise DataError(f"unknown dataset {name_or_path!r}: expected one of {known}, or a directory "
                        f"holding the four IDX files (tried {path.resolve()})")
    files = idx_files_in(path)
    if files is None:
        raise DataError(f"{path.resolve()}: expected the four IDX files train-images*, train-labels*, "
                        f"t10k-images* (or test-images*), t10k-labels* (or test-labels*)")
    return path.name, files
