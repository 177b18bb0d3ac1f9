"""Labelled texts from your own files: a CSV with a text column and a label column, or a folder of ``.txt`` files
per class. Both give the ``TextDataset`` that the IMDb reader gives, so the text pipeline (tokeniser, vocabulary,
GloVe vectors) treats them alike.

A folder of classes, as IMDb's own archive is laid out::

    DIR/train/<class>/*.txt   and, for a test set, DIR/test/<class>/*.txt
    DIR/<class>/*.txt         (no test set)

Each class folder's name is the class; a folder named ``unsup`` (IMDb's unlabelled reviews) is skipped. Files are
read in name order, as UTF-8. In a CSV the classes are the label column's values, in numeric order when they are
all integers, else in alphabetical order; a test CSV's labels must be among the training file's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from divekit.data.imdb import TextDataset
from divekit.errors import DataError

UNLABELLED = "unsup"


def _class_dirs(folder: Path) -> list[Path]:
    """Subfolders of ``folder`` holding ``.txt`` files, in name order."""
    return sorted(d for d in folder.iterdir()
                  if d.is_dir() and d.name != UNLABELLED and any(f.suffix == ".txt" for f in d.iterdir()))


def is_text_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder of classes of ``.txt`` files (either layout of the module docstring)."""
    folder = Path(path)
    try:
        if not folder.is_dir():
            return False
        return bool(_class_dirs(folder / "train")) if (folder / "train").is_dir() else bool(_class_dirs(folder))
    except OSError:
        return False


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None


def _read_classes(folder: Path, name: str, classes: Sequence[str] | None = None) -> TextDataset:
    dirs = _class_dirs(folder)
    if not dirs:
        raise DataError(f"{folder}: no class folders holding .txt files")
    found = tuple(d.name for d in dirs)
    if classes is not None and not set(found) <= set(classes):
        raise DataError(f"{folder}: class folders {sorted(set(found) - set(classes))} are not among the training "
                        f"classes ({', '.join(classes)})")
    classes = tuple(classes) if classes is not None else found
    texts, labels = [], []
    for d in dirs:
        for f in sorted(p for p in d.iterdir() if p.suffix == ".txt" and p.is_file()):
            texts.append(_read_text(f))
            labels.append(classes.index(d.name))
    return TextDataset(texts, labels, classes, name, str(folder))


def read_text_folder(path: str | os.PathLike) -> dict[str, TextDataset | None]:
    """``{"train": …, "test": … or None}`` from a folder of classes (see the module docstring)."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    name = folder.name
    if not (folder / "train").is_dir():
        return {"train": _read_classes(folder, name), "test": None}
    train = _read_classes(folder / "train", name)
    test = _read_classes(folder / "test", name, train.classes) if (folder / "test").is_dir() else None
    return {"train": train, "test": test}


def _sorted_classes(values: set[str]) -> tuple[str, ...]:
    if all(v.lstrip("-").isdigit() for v in values):
        return tuple(sorted(values, key=int))
    return tuple(sorted(values))


def _label_column(header: list[str], text_column: str, label_column: str | None, path: Path) -> str:
    if label_column:
        return label_column
    others = [c for c in header if c != text_column]
    if len(others) == 1:
        return others[0]
    raise DataError(f"{path}: which column holds the labels? give --label-column (the columns are "
                    f"{', '.join(header[:12])})")


def read_text_csv(path: str | os.PathLike, text_column: str, label_column: str | None = None,
                  classes: Sequence[str] | None = None) -> tuple[TextDataset, str]:
    """The texts and labels of a CSV file, and the label column read. ``label_column``: default, the one other
    column of a two-column file; ``classes``: those of the training file (a test file's labels must be among
    them)."""
    from divekit.data.tabular import read_csv

    table = read_csv(path)
    table.index(text_column, "text column")  # named first: a wrong --text-column would leave the labels ambiguous
    label_column = _label_column(table.header, text_column, label_column, table.path)
    texts, values = table.column(text_column), [v.strip() for v in table.column(label_column)]
    missing = [line for line, v in zip(table.lines, values, strict=True) if not v]
    if missing:
        raise DataError(f"{table.path}, line {missing[0]}: no label in column {label_column!r}")
    classes = tuple(classes) if classes is not None else _sorted_classes(set(values))
    index = {c: i for i, c in enumerate(classes)}
    unknown = [(line, v) for line, v in zip(table.lines, values, strict=True) if v not in index]
    if unknown:
        raise DataError(f"{table.path}, line {unknown[0][0]}: label {unknown[0][1]!r} is not one of the training "
                        f"classes ({', '.join(classes)})")
    return TextDataset(texts, [index[v] for v in values], classes, table.path.stem, str(table.path)), label_column


def read_text_csvs(path: str | os.PathLike, text_column: str, label_column: str | None = None,
                   test: str | os.PathLike | None = None) -> dict[str, TextDataset | None]:
    """``{"train": …, "test": … or None}``: the training CSV and, if given, a test CSV with the same columns."""
    train, label_column = read_text_csv(path, text_column, label_column)
    return {"train": train, "test": read_text_csv(test, text_column, label_column, train.classes)[0] if test else None}


def read_texts(path: str | os.PathLike, column: str | None = None) -> list[str]:
    """Texts to classify from a file: the ``column`` of a CSV (needed for a ``.csv``), else one text per line
    (blank lines skipped)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        if not column:
            raise DataError(f"{path}: a CSV of texts needs --text-column, the column to classify")
        from divekit.data.tabular import read_csv

        texts = read_csv(path).column(column)
    else:
        texts = [line for line in _read_text(path).splitlines() if line.strip()]
    if not texts:
        raise DataError(f"{path}: no texts in it")
    return texts
