"""``divekit datasets``: the known datasets and where each was found (or how to get it)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder searched first (for imdb, also the archive file itself)")
    p.add_argument("--download", metavar="NAME",
                   help="make NAME ready: find it, or download it into the user cache where it has a download")


def download(name: str, data_dir: str | None) -> str:
    """Find ``name`` or fetch it, and say where it is."""
    from divekit.data.catalog import SOURCES
    from divekit.data.sources import locate, location
    from divekit.errors import ConfigError

    if name not in SOURCES:
        raise ConfigError(f"--download {name}: unknown dataset; expected one of {', '.join(SOURCES)}")
    return str(location(locate(SOURCES[name], data_dir, download=True)))


def run(args: argparse.Namespace) -> int:
    from divekit.data.catalog import ARCHIVE_SUFFIXES, SOURCES
    from divekit.data.sources import check_data_dir, find, how_to_get, location, searchable

    check_data_dir(args.data_dir, ARCHIVE_SUFFIXES)
    if args.download:
        print(f"{args.download}: ready in {download(args.download, args.data_dir)}")
        return 0
    for name, spec in SOURCES.items():
        files = find(spec, searchable(spec, args.data_dir))
        where = str(location(files)) if files else f"not found: {how_to_get(spec)}"
        print(f"{name:<20} {spec.title}\n{'':<20} {where}")
    return 0
