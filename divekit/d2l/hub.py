"""The book's ``DATA_HUB``/``download``, found and verified like every divekit dataset.

``DATA_HUB[name] = (url, sha1)`` is the book's API and its chapters write such entries. Where divekit's
catalog knows the file (``CATALOG``), ``download(name)`` finds it as that dataset's file (``--data-dir`` aside:
``$DIVEKIT_DATA``, the user cache, ``/usr/share/datasets``, in the shared-data folders) and downloads it
checked against the catalog's SHA-256, trying the entry's URL first. Any other entry is found and downloaded
the same way under the ``d2l/`` folder, checked against the entry's own SHA-1. Nothing is written relative
to the current directory unless the caller passes ``cache_dir``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import replace
from pathlib import Path

from divekit.data.catalog import SOURCES
from divekit.data.safetar import safe_extract
from divekit.data.sources import DatasetSpec, RemoteFile, candidate_dirs, fetch_files, locate
from divekit.data.sources import cache_dir as divekit_cache
from divekit.errors import DataError

DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
DATA_HUB: dict[str, tuple[str, str]] = {
    "kaggle_house_train": (DATA_URL + "kaggle_house_pred_train.csv", "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    "kaggle_house_test": (DATA_URL + "kaggle_house_pred_test.csv", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
    "time_machine": (DATA_URL + "timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "airfoil": (DATA_URL + "airfoil_self_noise.dat", "76e5be1548fd8222e5074cf0faae75edff8cf93f"),
    "aclImdb": ("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "01ada507287d82875905620988597833ad4e0903"),
    # The book's repacked GloVe zips: no SHA-256 is published for them, so their download is checked
    # against the book's SHA-1 (the catalog serves local GloVe files, but has no download for them).
    "glove.6b.50d": (DATA_URL + "glove.6B.50d.zip", "0b8703943ccdb6eb788e6f091b8946e82231bc4d"),
    "glove.6b.100d": (DATA_URL + "glove.6B.100d.zip", "cd43bfb07e44e6f27cbcc7bc9ae3d80284fdaf5a"),
}

# DATA_HUB name -> (divekit dataset, role): the same file, in the shared-data layout
CATALOG: dict[str, tuple[str, str]] = {
    "kaggle_house_train": ("house-prices", "train"),
    "kaggle_house_test": ("house-prices", "test"),
    "time_machine": ("time-machine", "file"),
    "airfoil": ("airfoil", "file"),
    "aclImdb": ("imdb", "archive"),
    "glove.6b.50d": ("glove-50d", "vectors"),
    "glove.6b.100d": ("glove-100d", "vectors"),
}


def as_dataset(name: str) -> tuple[DatasetSpec, str]:
    """``DATA_HUB[name]`` as a dataset and the role of its file (see the module docstring)."""
    url, sha1 = DATA_HUB[name]
    base, _, fname = url.rpartition("/")
    dataset, role = CATALOG.get(name, ("", "file"))
    spec = SOURCES.get(dataset)
    if spec is None:
        return DatasetSpec(name, name, "file", "d2l", {"file": RemoteFile(fname, sha1=sha1)}, (base + "/",)), "file"
    if spec.mirrors and fname == spec.files[role].name:
        return replace(spec, mirrors=tuple(dict.fromkeys((base + "/", *spec.mirrors)))), role
    accept = (*spec.files[role].local_names, fname)  # the catalog's local copies serve; else the book's file
    book_file = RemoteFile(fname, sha1=sha1, accept=accept)
    return DatasetSpec(name, name, "file", spec.folder, {"file": book_file}, (base + "/",)), "file"


def local_candidates(name: str) -> list[Path]:
    """Where ``download(name)`` looks before downloading, in order."""
    spec, role = as_dataset(name)
    return [d / f for d in candidate_dirs(spec) for f in spec.files[role].local_names]


def download(name: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Local path of ``DATA_HUB[name]``'s file: found locally (see the module docstring) or downloaded;
    with ``cache_dir``, downloaded into that folder (a verified copy already there is kept).

    Raises:
        DataError: unknown name, or not found locally and the download failed (one line saying how to get it).
    """
    if name not in DATA_HUB:
        raise DataError(f"d2l.download: {name!r} is not in DATA_HUB (known: {', '.join(sorted(DATA_HUB))})")
    spec, role = as_dataset(name)
    try:
        if cache_dir is not None:
            return str(fetch_files(spec, (role,), Path(cache_dir))[role])
        return str(locate(spec, roles=(role,))[role])
    except DataError as e:
        raise DataError(f"d2l.download({name!r}): {e}") from None


def download_extract(name: str, folder: str | None = None) -> str:
    """Download (see ``download``) and unpack a zip/tar archive into the divekit cache, once.

    Returns ``<extracted>/<folder>`` when ``folder`` is given, else the extraction directory. A file that is
    not an archive (e.g. gzipped vectors) is returned as it is.
    """
    fname = Path(download(name))
    if not (fname.suffix == ".zip" or ".tar" in fname.suffixes or fname.name.endswith(".tgz")):
        return str(fname)
    base = divekit_cache() / "d2l" / "extracted" / name
    done = base / ".complete"
    if not done.is_file():
        if fname.suffix == ".zip":
            with zipfile.ZipFile(fname) as zf:
                zf.extractall(base)
        else:
            safe_extract(fname, base)
        done.write_text(str(fname))
    return str(base / folder) if folder else str(base)


def download_all() -> None:
    """Download every ``DATA_HUB`` file that is not found locally."""
    for name in DATA_HUB:
        download(name)
