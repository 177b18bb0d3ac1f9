"""Where a dataset's files are found, and their verified download: the same rules for every dataset.

Lookup order (the first folder holding every wanted file wins):

1. an explicit ``data_dir`` (``--data-dir``): ``data_dir/<folder>/``, ``data_dir/<name>/``, ``data_dir`` itself;
2. ``$DIVEKIT_DATA/<folder>/``;
3. the user cache, ``$DIVEKIT_CACHE`` or ``~/.cache/divekit`` (``$XDG_CACHE_HOME/divekit``), ``/<folder>/``;
4. Debian's ``/usr/share/datasets/<folder>/``;
5. a download from the published URLs into the user cache, each file checked against its SHA-256
   (see ``divekit.data.download``).

``<folder>`` is the shared-data layout name (``fashion-mnist``, ``kaggle-house-prices``, ``aclImdb``, ``glove``,
``d2l-misc``); the dataset's own name is tried too where it differs. Files found locally are used as they are.
The datasets themselves are listed in ``divekit.data.catalog``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from divekit.data.download import fetch
from divekit.errors import ConfigError, DataError

DEBIAN_ROOT = Path("/usr/share/datasets")
MINI_DIR = Path(__file__).parent / "mini"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: ``name`` as published (and as a download saves it), and its checks.

    ``sha256`` is of the file as published; ``content_sha256`` of its decompressed content, so that a mirror
    that recompressed a ``.gz`` is accepted; ``sha1`` only for the book's own ``DATA_HUB`` entries, which carry
    nothing else. ``accept`` lists the local file names that serve, in order of preference (default: ``name``).
    """

    name: str
    sha256: str | None = None
    content_sha256: str | None = None
    sha1: str | None = None
    accept: tuple[str, ...] = ()

    @property
    def local_names(self) -> tuple[str, ...]:
        return self.accept or (self.name,)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset divekit knows: its files by role, where they live and come from, and what they hold.

    Attributes:
        name: what users type (``--data``, ``--embedding``, ``divekit datasets --download``).
        kind: ``images``, ``tabular``, ``text``, ``vectors`` or ``file`` (a single file the book reads).
        folder: the folder name in the shared-data layout.
        files: the files, by role (``train_images``, ``train``, ``archive`` …).
        mirrors: base URLs tried in turn; a file's URL is ``mirror + file.name``. Empty: no download.
        layout: how to find the files in one folder, where names vary (IDX); default: by ``local_names``.
        file_suffixes: a ``data_dir`` ending in one of these names the dataset's single file itself.
        bundled: the folder of a copy shipped with divekit; nothing else is searched.
        get: how to get the files by hand, said when there is no download.
        classes, mean, std: image datasets: class names, and pixel statistics in [0, 1] units.
        target, id_column: tabular datasets: the column to predict and the row id column.
    """

    name: str
    title: str
    kind: str
    folder: str
    files: dict[str, RemoteFile]
    mirrors: tuple[str, ...] = ()
    layout: Callable[[Path], dict[str, Path] | None] | None = None
    file_suffixes: tuple[str, ...] = ()
    bundled: Path | None = None
    get: str = ""
    classes: tuple[str, ...] = ()
    mean: float | None = None
    std: float | None = None
    target: str | None = None
    id_column: str | None = None


def cache_dir() -> Path:
    """The user cache: ``$DIVEKIT_CACHE``, else ``$XDG_CACHE_HOME/divekit``, else ``~/.cache/divekit``."""
    if os.environ.get("DIVEKIT_CACHE"):
        return Path(os.environ["DIVEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "divekit"


def search_roots(data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The folders searched, in lookup order, each with what it is (``--data-dir``, ``$DIVEKIT_DATA`` …)."""
    roots = [(Path(data_dir), "--data-dir")] if data_dir is not None and not Path(data_dir).is_file() else []
    if os.environ.get("DIVEKIT_DATA"):
        roots.append((Path(os.environ["DIVEKIT_DATA"]), "$DIVEKIT_DATA"))
    return roots + [(cache_dir(), "user cache"), (DEBIAN_ROOT, "Debian package")]


def check_data_dir(data_dir: str | os.PathLike | None, file_suffixes: Sequence[str] = ()) -> None:
    """Refuse a ``data_dir`` that is not a folder, unless it names a file ending in one of ``file_suffixes``.

    Raises:
        ConfigError: no such folder, or a file where a folder is expected.
    """
    if data_dir is None or Path(data_dir).is_dir():
        return
    names_file = bool(file_suffixes) and str(data_dir).endswith(tuple(file_suffixes))
    if names_file and Path(data_dir).is_file():
        return
    if not Path(data_dir).exists():
        raise ConfigError(f"--data-dir {data_dir}: no such {'file' if names_file else 'folder'} "
                          f"(it is searched first for datasets)")
    also = f" or a file ending in {', '.join(file_suffixes)}" if file_suffixes else ""
    raise ConfigError(f"--data-dir {data_dir}: a file, expected a folder{also} (it is searched first for datasets)")


def searchable(spec: DatasetSpec, data_dir: str | os.PathLike | None) -> str | os.PathLike | None:
    """``data_dir`` where it can be searched for ``spec``, else None: a ``data_dir`` naming one dataset's file
    (the IMDb archive) is searched for that dataset only."""
    if data_dir is not None and Path(data_dir).is_file() and not spec.file_suffixes:
        return None
    return data_dir


def location(files: dict[str, Path]) -> Path:
    """Where found files are, in one path: the file of a one-file dataset, else their folder."""
    paths = list(files.values())
    return paths[0] if len(paths) == 1 else paths[0].parent


def candidate_dirs(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``spec``'s files, in lookup order (see the module docstring)."""
    if spec.bundled is not None:
        return [spec.bundled]
    names = list(dict.fromkeys((spec.folder, spec.name)))
    dirs: list[Path] = []
    for root, label in search_roots(data_dir):
        dirs += [root / n for n in names]
        if label == "--data-dir":
            dirs.append(root)
    return dirs


def files_in(spec: DatasetSpec, directory: Path, roles: Sequence[str]) -> dict[str, Path] | None:
    """``spec``'s files for ``roles`` in ``directory``, or None when any is missing."""
    if spec.layout is not None:
        found = spec.layout(directory)
        return None if found is None else {role: found[role] for role in roles}
    out = {}
    for role in roles:
        hits = [directory / n for n in spec.files[role].local_names if (directory / n).is_file()]
        if not hits:
            return None
        out[role] = hits[0]
    return out


def find(spec: DatasetSpec, data_dir: str | os.PathLike | None = None,
         roles: Sequence[str] | None = None) -> dict[str, Path] | None:
    """``spec``'s files (for ``roles``, default all) from the first folder in lookup order holding them all.

    Raises:
        ConfigError: ``data_dir`` is not a folder (nor, for a single-file dataset, that file).
    """
    check_data_dir(data_dir, spec.file_suffixes)
    roles = tuple(roles or spec.files)
    if data_dir is not None and Path(data_dir).is_file():  # the dataset's single file, named directly
        return {roles[0]: Path(data_dir)}
    for directory in candidate_dirs(spec, data_dir):
        found = files_in(spec, directory, roles)
        if found is not None:
            return found
    return None


def locate(spec: DatasetSpec, data_dir: str | os.PathLike | None = None, download: bool = True,
           roles: Sequence[str] | None = None) -> dict[str, Path]:
    """``spec``'s files by role: found (see ``find``) or, with ``download``, fetched into the user cache.

    Raises:
        ConfigError: a ``data_dir`` that is not a folder.
        DataError: found nowhere, and the download was not allowed, not possible, or failed.
    """
    roles = tuple(roles or spec.files)
    found = find(spec, data_dir, roles)
    if found is not None:
        return found
    if download and spec.mirrors:
        return fetch_files(spec, roles)
    raise DataError(not_found(spec, data_dir, roles, download))


def how_to_get(spec: DatasetSpec, download_allowed: bool = False) -> str:
    """What a user can do when ``spec``'s files are nowhere local."""
    if not spec.mirrors:
        return spec.get
    if download_allowed:
        return "allow the download"
    return f"run 'divekit datasets --download {spec.name}' (it fetches into {cache_dir() / spec.folder})"


def not_found(spec: DatasetSpec, data_dir: str | os.PathLike | None, roles: Sequence[str],
              download: bool = False) -> str:
    names = " and ".join(" or ".join(spec.files[r].local_names) for r in roles)
    tried = ", ".join(str(d) for d in candidate_dirs(spec, data_dir))
    return (f"{spec.name}: not found (looked for {names} in {tried}); pass --data-dir, set DIVEKIT_DATA, "
            f"or {how_to_get(spec, download)}")


def fetch_files(spec: DatasetSpec, roles: Sequence[str] | None = None, target: Path | None = None,
                progress: bool = True) -> dict[str, Path]:
    """Download ``spec``'s files for ``roles`` into ``target`` (default: the user cache's ``<folder>/``),
    each from the first mirror serving a copy that passes its checks.

    Raises:
        DataError: no download is known, or a file could not be had from any mirror.
    """
    if not spec.mirrors:
        raise DataError(f"{spec.name}: no download is known; {spec.get}")
    target = Path(target) if target is not None else cache_dir() / spec.folder
    out = {}
    for role in roles or spec.files:
        file = spec.files[role]
        try:
            out[role] = fetch([mirror + file.name for mirror in spec.mirrors], target / file.name, file, progress)
        except DataError as e:
            names = ", ".join(spec.files[r].name for r in roles or spec.files)
            env = os.environ.get("DIVEKIT_DATA")
            missing = f" ($DIVEKIT_DATA={env} is no folder)" if env and not Path(env).is_dir() else ""
            raise DataError(f"{spec.name}: {e}. Without internet, put {names} into {target} or "
                            f"$DIVEKIT_DATA/{spec.folder}/{missing} (or DIR/{spec.folder}/ with --data-dir DIR)"
                            ) from None
    return out
