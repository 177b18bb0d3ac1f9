"""The IMDb Large Movie Review Dataset (Maas et al., ACL 2011), read straight from its ``.tar.gz``.

Layout inside the archive (official ``aclImdb_v1.tar.gz`` or the labelled-only repack
``aclImdb_train_test.tar.gz``)::

    aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt      12,500 pos + 12,500 neg per split

Everything else (``unsup/``, ``*.feat``, ``imdb.vocab``, URL lists) is skipped. The archive is streamed
once, every member checked by ``divekit.data.safetar`` (a crafted archive is refused with ``DataError``)
and nothing is extracted to disk. Reviews are returned sorted by (label, id) so the order never depends
on how the archive was packed. Labels: 0 = neg, 1 = pos.

Where the archive is looked for (first hit wins): ``--data-dir`` (``DIR/aclImdb/`` or ``DIR`` itself, or the
archive's own path), ``$DIVEKIT_DATA/aclImdb/``, the user cache ``aclImdb/``, ``/usr/share/datasets/aclImdb/``,
then a checksummed download of the official archive into the user cache.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from divekit.data.registry import DEBIAN_ROOT, cache_dir
from divekit.data.safetar import iter_files
from divekit.errors import DataError

ARCHIVES = ("aclImdb_train_test.tar.gz", "aclImdb_v1.tar.gz")
URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA1 = "01ada507287d82875905620988597833ad4e0903"  # of aclImdb_v1.tar.gz, as published with the book
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


def candidate_paths(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Archive paths tried, in lookup order (see module docstring)."""
    dirs: list[Path] = []
    if data_dir is not None:
        if str(data_dir).endswith((".tar.gz", ".tgz", ".tar")):
            return [Path(data_dir)]
        dirs += [Path(data_dir) / "aclImdb", Path(data_dir)]
    if os.environ.get("DIVEKIT_DATA"):
        dirs.append(Path(os.environ["DIVEKIT_DATA"]) / "aclImdb")
    dirs += [cache_dir() / "aclImdb", DEBIAN_ROOT / "aclImdb"]
    return [d / name for d in dirs for name in ARCHIVES]


def find_archive(data_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The first IMDb archive found, else the official one downloaded (sha1-checked) into the cache.

    Raises:
        DataError: not found anywhere and the download was not allowed or failed.
    """
    tried = candidate_paths(data_dir)
    for path in tried:
        if path.is_file():
            return path
    if download and not (data_dir and str(data_dir).endswith((".tar.gz", ".tgz", ".tar"))):
        return _download()
    raise DataError(f"IMDb archive not found (tried {', '.join(str(p) for p in tried)}); pass --data-dir, set "
                    f"DIVEKIT_DATA, or download {URL} into {cache_dir() / 'aclImdb'}")


def _download() -> Path:
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is installed with the data extras
        raise DataError(f"IMDb not found locally and downloading needs 'pooch'; or fetch {URL} by hand") from None
    target = cache_dir() / "aclImdb"
    try:
        return Path(pooch.retrieve(URL, known_hash=f"sha1:{SHA1}", fname=ARCHIVES[1], path=target,
                                   progressbar=True))
    except Exception as e:  # network errors come in many types; all mean the same to the user
        raise DataError(f"downloading {URL} failed ({e}); put the archive into {target} by hand") from None


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
