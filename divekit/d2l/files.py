"""``download`` in both editions' signatures, and the 1.0 edition's ``extract``.

The 0.17 edition calls ``download(name, cache_dir)`` with a ``DATA_HUB`` name; the 1.0 edition calls
``download(url, folder='../data', sha1_hash=None)``. Both go through divekit's offline-first lookup
(``divekit.d2l.hub``): a URL is mapped to its ``DATA_HUB`` entry (or registered as one under its file name).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from divekit.d2l import hub
from divekit.d2l.hub import DATA_HUB, DATA_URL
from divekit.data.safetar import safe_extract

# Data of the 1.0 edition's chapters that is not in the shared-data layout: looked up in the divekit cache, then
# downloaded and checked (SHA-1 as the book publishes it).
DATA_HUB.setdefault("fra-eng", (DATA_URL + "fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"))
DATA_HUB.setdefault("SNLI", ("https://nlp.stanford.edu/projects/snli/snli_1.0.zip",
                             "9fcde07509c7e87ec61c640c1b2753d9041758e4"))


def sha1_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hub_name(url: str, sha1_hash: str | None = None) -> str:
    """The ``DATA_HUB`` name whose URL is ``url`` (or whose file has the same name); registered when new."""
    fname = url.rsplit("/", 1)[-1]
    for name, (known, _) in DATA_HUB.items():
        if known == url or known.rsplit("/", 1)[-1] == fname:
            return name
    DATA_HUB[fname] = (url, sha1_hash or "")
    return fname


def download(name_or_url: str, folder: str | os.PathLike | None = None, sha1_hash: str | None = None) -> str:
    """Local path of a data file, found offline first, else downloaded and checked.

    ``download(name)`` / ``download(name, cache_dir)``: a ``DATA_HUB`` name (0.17 edition).
    ``download(url, folder, sha1_hash)``: a URL (1.0 edition); a file of that name already in ``folder`` with
    the right SHA-1 is used as it is, as the book does, else divekit's lookup finds or downloads it.
    """
    if "://" not in str(name_or_url):
        return hub.download(name_or_url, folder)
    url = str(name_or_url)
    if folder is not None:
        local = Path(folder) / url.rsplit("/", 1)[-1]
        if local.is_file() and (not sha1_hash or sha1_of(local) == sha1_hash):
            return str(local)
    return hub.download(hub_name(url, sha1_hash))


def extract(filename: str | os.PathLike, folder: str | os.PathLike | None = None) -> None:
    """Unpack a zip or tar archive into ``folder`` (default: the archive's folder)."""
    filename = Path(filename)
    folder = Path(folder) if folder is not None else filename.parent
    if filename.suffix == ".zip":
        with zipfile.ZipFile(filename) as zf:
            zf.extractall(folder)
    elif filename.suffix in (".tar", ".gz", ".tgz"):
        safe_extract(filename, folder)
    else:
        raise ValueError(f"extract: only zip/tar files can be extracted, got {filename.name}")
