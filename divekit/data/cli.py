"""``divekit datasets``: the known datasets and where each was found (or how to get it)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder searched first")
    p.add_argument("--download", metavar="NAME", help="download NAME into the user cache now")


def run(args: argparse.Namespace) -> int:
    from divekit.data.registry import DATASETS, cache_dir, find_local

    if args.download:
        from divekit.data.registry import locate

        _, files = locate(args.download, args.data_dir, download=True)
        print(f"{args.download}: ready in {files['train_images'].parent}")
        return 0
    for name, spec in DATASETS.items():
        files = find_local(name, args.data_dir)
        where = str(files["train_images"].parent) if files else (
            f"not found: 'divekit datasets --download {name}' fetches it into {cache_dir() / name}")
        print(f"{name:<20} {spec.title}\n{'':<20} {where}")
    return 0
