"""The IMDb Large Movie Review Dataset (Maas et al., ACL 2011), read straight from its ``.tar.gz``.

Layout inside the archive (official ``aclImdb_v1.tar.gz`` or the labelled-only repack
``aclImdb_train_test.tar.gz``)::

    aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt      12,500 pos + 12,500 neg per split

Everything else (``unsup/``, ``*.feat``, ``imdb.vocab``, URL lists) is skipped. The archive is streamed
once, every member checked by ``divekit.data.safetar`` (a crafted archive is refused with ``DataError``)
and nothing is extracted to disk. Reviews are returned sorted by (label, id) so the order never depends
on how the archive was packed. Labels: 0 = neg, 1 = pos.

The archive is found like every dataset (``divekit.data.sources``): ``--data-dir`` (``DIR/aclImdb/`` or ``DIR``
itself, or the archive's own path), ``$DIVEKIT_DATA/aclImdb/``, the user cache, ``/usr/share/datasets/aclImdb/``,
then a download of the official archive into the user cache, checked against its published SHA-256.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from divekit.data.catalog import SOURCES
from divekit.data.safetar import iter_files
from divekit.data.sources import locate
from divekit.errors import DataError

IMDB = SOURCES["imdb"]
CLASSES = ("neg", "pos")
_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


@dataclass
class TextDataset:
    """Raw texts with integer labels; ``ratings`` holds the 1–10 star rating where the source has one."""

    texts: list[str]
    labels: list[int]
    classes: tuple[str, ...]
    name: str
    source: str
    ratings: list[int] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def find_archive(data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The first IMDb archive found, else the official one downloaded (SHA-256-checked) into the user cache.
    A ``data_dir`` naming an archive file is that archive, never a download.

    Raises:
        ConfigError: ``data_dir`` is neither a folder nor an existing archive file.
        DataError: not found anywhere and the download was not allowed or failed.
    """
    return locate(IMDB, data_dir, download)["archive"]


def read_imdb(path: str | os.PathLike) -> dict[str, TextDataset]:
    """Read both labelled splits from the archive at ``path`` in one streamed pass.

    Returns:
        ``{"train": TextDataset, "test": TextDataset}``.

    Raises:
        DataError: unreadable or unsafe archive, a review that is not UTF-8, or a split missing.
    """
    path = Path(path)
    rows: dict[str, list[tuple[int, int, int, str]]] = {"train": [], "test": []}
    for name, data in iter_files(path, lambda n: n.endswith(".txt")):
        m = _MEMBER.match(name)
        if m is None:
            continue
        split, label, review_id, rating = m.groups()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: member {name!r} is not UTF-8 text ({e})") from None
        rows[split].append((CLASSES.index(label), int(review_id), int(rating), text))
    out = {}
    for split, items in rows.items():
        if not items:
            raise DataError(f"{path}: no reviews under aclImdb/{split}/{{pos,neg}}/; is this the IMDb archive?")
        items.sort(key=lambda r: (r[0], r[1]))
        out[split] = TextDataset([r[3] for r in items], [r[0] for r in items], CLASSES, "imdb", str(path),
                                 [r[2] for r in items])
    return out


def load_imdb(data_dir: str | os.PathLike | None = None, download: bool = True) -> dict[str, TextDataset]:
    """Find the archive (see ``find_archive``) and read both splits."""
    return read_imdb(find_archive(data_dir, download))
