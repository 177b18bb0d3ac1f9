"""The book's ``DATA_HUB``/``download``, offline first.

``download(name)`` looks for the file in the shared-data layout (``$DIVEKIT_DATA/<folder>/<file>``), in the
divekit cache (the same layout, or ``d2l/<file>`` for earlier downloads) and in ``/usr/share/datasets``;
only then does it download ``DATA_HUB[name]``'s URL into ``<cache>/d2l/`` and check its SHA-1. Nothing is
written relative to the current directory unless the caller passes ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

from divekit.data.registry import DEBIAN_ROOT
from divekit.data.registry import cache_dir as divekit_cache
from divekit.data.safetar import safe_extract
from divekit.errors import DataError

DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
DATA_HUB: dict[str, tuple[str, str]] = {
    "kaggle_house_train": (DATA_URL + "kaggle_house_pred_train.csv", "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    "kaggle_house_test": (DATA_URL + "kaggle_house_pred_test.csv", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
    "time_machine": (DATA_URL + "timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "airfoil": (DATA_URL + "airfoil_self_noise.dat", "76e5be1548fd8222e5074cf0faae75edff8cf93f"),
    "aclImdb": ("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "01ada507287d82875905620988597833ad4e0903"),
    "glove.6b.50d": (DATA_URL + "glove.6B.50d.zip", "0b8703943ccdb6eb788e6f091b8946e82231bc4d"),
    "glove.6b.100d": (DATA_URL + "glove.6B.100d.zip", "cd43bfb07e44e6f27cbcc7bc9ae3d80f1f5ef6c5"),
}

# name -> (folder, files accepted in that folder, first preferred): the shared-data layout
LOCAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "kaggle_house_train": ("kaggle-house-prices", ("kaggle_house_pred_train.csv",)),
    "kaggle_house_test": ("kaggle-house-prices", ("kaggle_house_pred_test.csv",)),
    "time_machine": ("d2l-misc", ("timemachine.txt",)),
    "airfoil": ("d2l-misc", ("airfoil_self_noise.dat",)),
    "aclImdb": ("aclImdb", ("aclImdb_train_test.tar.gz", "aclImdb_v1.tar.gz")),
    "glove.6b.50d": ("glove", ("glove.6B.50d.top100k.txt.gz", "glove.6B.50d.txt.gz", "glove.6B.50d.txt")),
    "glove.6b.100d": ("glove", ("glove.6B.100d.txt.gz", "glove.6B.100d.txt")),
}


def sha1_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_candidates(name: str) -> list[Path]:
    """Where ``download(name)`` looks before downloading, in order."""
    folder, files = LOCAL.get(name, (None, ()))
    roots = [Path(os.environ["DIVEKIT_DATA"])] if os.environ.get("DIVEKIT_DATA") else []
    roots += [divekit_cache(), DEBIAN_ROOT]
    found = [root / folder / f for root in roots for f in files] if folder else []
    if name in DATA_HUB:
        found.append(divekit_cache() / "d2l" / DATA_HUB[name][0].split("/")[-1])
    return found


def download(name: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Local path of ``DATA_HUB[name]``'s file: found locally (see module docstring) or downloaded.

    Raises:
        DataError: unknown name, or not found locally and the download failed (one line saying how to get it).
    """
    if name not in DATA_HUB:
        raise DataError(f"d2l.download: {name!r} is not in DATA_HUB (known: {', '.join(sorted(DATA_HUB))})")
    url, sha1 = DATA_HUB[name]
    fname = url.split("/")[-1]
    if cache_dir is not None:
        target = Path(cache_dir) / fname
        if target.is_file() and sha1_of(target) == sha1:
            return str(target)
    else:
        for path in local_candidates(name):
            if path.is_file():
                return str(path)
        target = divekit_cache() / "d2l" / fname
    return str(_fetch(name, url, sha1, target))


def _fetch(name: str, url: str, sha1: str, target: Path) -> Path:
    try:
        import pooch

        logging.getLogger("pooch").setLevel(logging.WARNING)
        print(f"downloading {url} to {target} ...", flush=True)
        return Path(pooch.retrieve(url, known_hash=f"sha1:{sha1}", fname=target.name, path=target.parent,
                                   progressbar=False))
    except Exception as e:  # network errors come in many types
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        folder, files = LOCAL.get(name, ("d2l", (target.name,)))
        raise DataError(f"d2l.download({name!r}): not available offline and the download of {url} failed "
                        f"({reason}); put {files[0]} into $DIVEKIT_DATA/{folder}/ (or {target})") from None


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
