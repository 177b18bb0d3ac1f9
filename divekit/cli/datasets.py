"""``divekit datasets``: the known datasets and where each was found (or how to get it)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder searched first")
    p.add_argument("--download", metavar="NAME",
                   help="download NAME (an image dataset, house-prices or imdb) into the user cache now")


def _found(find) -> str:
    """Where ``find()`` found a dataset's files, or its error's first clause (the places tried)."""
    from divekit.errors import DivekitError

    try:
        return str(find())
    except DivekitError as e:
        return f"not found: {str(e).split('; ')[0]}"


def other_datasets(data_dir: str | None) -> list[tuple[str, str, object]]:
    """``(name, title, find)`` of the tabular and text datasets and the word vectors, ``find()`` returning the
    folder or file in use without downloading."""
    from divekit.data.glove import EMBEDDINGS, find_embedding
    from divekit.data.imdb import find_archive
    from divekit.data.tabular import TABULAR_DATASETS, locate_tabular

    rows: list[tuple[str, str, object]] = [
        (name, f"{spec.title} (tabular)", lambda name=name: locate_tabular(name, data_dir, download=False)[1].parent)
        for name, spec in TABULAR_DATASETS.items()]
    rows.append(("imdb", "IMDb movie reviews, 25,000 + 25,000 (text)",
                 lambda: find_archive(data_dir, download=False)))
    rows += [(name, "GloVe word vectors (--embedding)", lambda name=name: find_embedding(name, data_dir))
             for name in EMBEDDINGS]
    return rows


def download(name: str, data_dir: str | None) -> str:
    """Fetch ``name`` (unless already there) and say where it is."""
    if name == "imdb":
        from divekit.data.imdb import find_archive

        return str(find_archive(data_dir, download=True))
    from divekit.data.tabular import TABULAR_DATASETS, locate_tabular

    if name in TABULAR_DATASETS:
        return str(locate_tabular(name, data_dir, download=True)[1].parent)
    from divekit.data.registry import DATASETS, locate
    from divekit.errors import ConfigError

    if name not in DATASETS:
        known = ", ".join([*DATASETS, *TABULAR_DATASETS, "imdb"])
        raise ConfigError(f"--download {name}: unknown dataset; expected one of {known}")
    return str(locate(name, data_dir, download=True)[1]["train_images"].parent)


def run(args: argparse.Namespace) -> int:
    from divekit.data.registry import DATASETS, cache_dir, find_local

    if args.download:
        print(f"{args.download}: ready in {download(args.download, args.data_dir)}")
        return 0
    for name, spec in DATASETS.items():
        files = find_local(name, args.data_dir)
        where = str(files["train_images"].parent) if files else (
            f"not found: 'divekit datasets --download {name}' fetches it into {cache_dir() / name}")
        print(f"{name:<20} {spec.title}\n{'':<20} {where}")
    for name, title, find in other_datasets(args.data_dir):
        print(f"{name:<20} {title}\n{'':<20} {_found(find)}")
    return 0
