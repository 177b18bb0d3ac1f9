"""Tabular data from CSV files: careful reading, and a feature transform fitted on training rows only.

Reading (``read_csv``) turns every malformed input into a one-line ``DataError`` naming the file and line:
missing or empty file, text that is not UTF-8, a row with the wrong number of fields.

``TabularTransform.fit`` learns, from the training rows it is given and nothing else,

- for each numeric column (every present value parses as a number): mean and standard deviation,
  ``x → (x - mean) / std``, and a missing value becomes 0 (the training mean);
- for each other column: its categories, one-hot encoded in sorted order, plus a "missing" indicator
  (pandas' ``get_dummies(dummy_na=True)``); a category never seen in training encodes as all zeros.

The transform is saved as JSON next to the model, so predictions on new rows apply exactly the same steps.
No pandas: the csv module and numpy do the work.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from divekit.data.catalog import of_kind
from divekit.data.sources import DatasetSpec, locate
from divekit.errors import ConfigError, DataError

MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A"})  # pandas' usual NA strings
NA_CATEGORY = "<NA>"
TARGET_TRANSFORMS = ("none", "log", "standard", "log-standard")


@dataclass
class Table:
    """A CSV file held as strings: ``header`` names, ``rows`` of equal length, and each row's line number."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, column: str, role: str = "column") -> int:
        """Position of ``column``; a ``DataError`` listing the columns when it is not there."""
        try:
            return self.header.index(column)
        except ValueError:
            shown = ", ".join(self.header[:12]) + (" …" if len(self.header) > 12 else "")
            raise DataError(f"{self.path}: {role} {column!r} not found; the columns are {shown}") from None

    def column(self, name: str) -> list[str]:
        i = self.index(name)
        return [row[i] for row in self.rows]


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row.

    Raises:
        DataError: missing file, not UTF-8, empty, no data rows, duplicate column names, a row whose number
            of fields differs from the header, or a CSV syntax error; the message names file and line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (absolute path: {path.resolve()})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); "
                        f"save the file as UTF-8") from None
    if not text.strip():
        raise DataError(f"{path}, line 1: empty file; expected a header row of column names")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows, lines = [], []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if header is None:
                header = [name.strip() for name in row]
                _check_header(path, reader.line_num, header)
                continue
            if len(row) != len(header):
                raise DataError(f"{path}, line {reader.line_num}: {len(row)} fields, expected {len(header)} "
                                f"as in the header")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({e})") from None
    if not rows:
        raise DataError(f"{path}: a header but no data rows")
    return Table(path, header, rows, lines)


def _check_header(path: Path, line: int, header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise DataError(f"{path}, line {line}: an empty column name in the header")
        if name in seen:
            raise DataError(f"{path}, line {line}: column {name!r} appears twice in the header")
        seen.add(name)


def parse_number(value: str) -> float | None:
    """``float(value)`` for a finite number, ``nan`` for a missing marker, ``None`` for anything else."""
    value = value.strip()
    if value in MISSING:
        return math.nan
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def target_values(table: Table, target: str) -> np.ndarray:
    """The ``target`` column as ``float64 [N]``; every value must be a finite number."""
    i = table.index(target, "target column")
    y = np.empty(len(table))
    for r, (row, line) in enumerate(zip(table.rows, table.lines, strict=True)):
        x = parse_number(row[i])
        if x is None or math.isnan(x):
            raise DataError(f"{table.path}, line {line}: target column {target!r} must be a number, "
                            f"found {row[i]!r}{_text_hint(table, i)}")
        y[r] = x
    return y


def _text_hint(table: Table, target: int) -> str:
    """Where another column holds sentences, how to classify them instead: a table's target is a number."""
    def wordy(j: int) -> float:  # share of the first rows whose value has a space in it
        values = [row[j].strip() for row in table.rows[:200]]
        return sum(" " in v for v in values) / max(1, len(values))

    texts = [j for j in range(len(table.header)) if j != target and wordy(j) >= 0.5]
    if not texts:
        return " (a table's target is a number to predict)"
    return (f"; to classify texts by this column, name the column holding them: --text-column "
            f"{table.header[texts[0]]} --label-column {table.header[target]}")


@dataclass
class NumericColumn:
    name: str
    mean: float
    std: float


@dataclass
class CategoricalColumn:
    name: str
    categories: list[str]


@dataclass
class TabularTransform:
    """Features of a table → ``float32 [N, D]``, with statistics learned from training rows only.

    The model learns ``t = (g(y) - target_mean) / target_std`` with ``g = log`` when ``target_log`` (else the
    identity) and the mean/std of ``g(y)`` over the training rows when the target is standardised (else 0/1);
    ``encode_target`` and ``decode`` convert.
    """

    numeric: list[NumericColumn] = field(default_factory=list)
    categorical: list[CategoricalColumn] = field(default_factory=list)
    target: str | None = None
    id_column: str | None = None
    dummy_na: bool = True
    target_log: bool = False
    target_mean: float = 0.0
    target_std: float = 1.0

    @classmethod
    def fit(cls, table: Table, rows: Sequence[int] | None = None, target: str | None = None,
            id_column: str | None = None, dummy_na: bool = True, target_transform: str = "none") -> TabularTransform:
        """Learn column types, means/stds (ddof 1, as pandas) and categories from ``table.rows[rows]``.

        ``target_transform``: ``none`` (learn ``y``), ``log``, ``standard`` (standardised ``y``) or
        ``log-standard`` (standardised ``log y``), statistics again from ``rows`` only.
        """
        if target_transform not in TARGET_TRANSFORMS:
            raise ConfigError(f"target transform must be one of {', '.join(TARGET_TRANSFORMS)}, "
                              f"got {target_transform!r}")
        picked = table.rows if rows is None else [table.rows[int(r)] for r in rows]
        if not picked:
            raise DataError(f"{table.path}: no training rows to fit the feature transform on")
        skip = {c for c in (target, id_column) if c}
        for c in skip:
            table.index(c, "target column" if c == target else "id column")
        out = cls(target=target, id_column=id_column, dummy_na=dummy_na, target_log="log" in target_transform)
        if "standard" in target_transform:
            if not target:
                raise ConfigError("a standardised target needs the target column")
            y = target_values(table, target)
            t = out.encode_target(y if rows is None else y[np.asarray(rows, dtype=np.int64)])
            out.target_mean, out.target_std = float(t.mean()), float(t.std(ddof=1)) if len(t) > 1 else 1.0
        for j, name in enumerate(table.header):
            if name in skip:
                continue
            values = [parse_number(row[j]) for row in picked]
            if all(v is not None for v in values):
                x = np.array(values, dtype=np.float64)
                present = x[~np.isnan(x)]
                mean = float(present.mean()) if len(present) else 0.0
                std = float(present.std(ddof=1)) if len(present) > 1 else 0.0
                out.numeric.append(NumericColumn(name, mean, std if std > 0 else 1.0))
            else:
                cats = sorted({row[j].strip() for row in picked} - MISSING)
                out.categorical.append(CategoricalColumn(name, cats))
        return out

    @property
    def feature_names(self) -> list[str]:
        names = [c.name for c in self.numeric]
        for c in self.categorical:
            names += [f"{c.name}={v}" for v in c.categories] + ([f"{c.name}={NA_CATEGORY}"] if self.dummy_na else [])
        return names

    @property
    def num_features(self) -> int:
        return len(self.numeric) + sum(len(c.categories) + self.dummy_na for c in self.categorical)

    def transform(self, table: Table, rows: Sequence[int] | None = None) -> np.ndarray:
        """``float32 [N, D]`` features of ``table.rows[rows]`` (all rows by default).

        Raises:
            DataError: a column the transform needs is missing, or a numeric column holds text.
        """
        picked = range(len(table)) if rows is None else [int(r) for r in rows]
        x = np.zeros((len(picked), self.num_features), dtype=np.float32)
        for j, col in enumerate(self.numeric):
            i = table.index(col.name)
            for r, k in enumerate(picked):
                v = parse_number(table.rows[k][i])
                if v is None:
                    raise DataError(f"{table.path}, line {table.lines[k]}: column {col.name!r} is numeric in the "
                                    f"training data, found {table.rows[k][i]!r}")
                x[r, j] = 0.0 if math.isnan(v) else (v - col.mean) / col.std
        start = len(self.numeric)
        for col in self.categorical:
            i = table.index(col.name)
            slot = {v: n for n, v in enumerate(col.categories)}
            for r, k in enumerate(picked):
                value = table.rows[k][i].strip()
                n = len(col.categories) if value in MISSING and self.dummy_na else slot.get(value)
                if n is not None:  # unseen category: all zeros
                    x[r, start + n] = 1.0
            start += len(col.categories) + self.dummy_na
        return x

    def unknown_categories(self, table: Table) -> dict[str, list[str]]:
        """Categories in ``table`` never seen in training, by column (they encode as all zeros)."""
        unknown = {}
        for col in self.categorical:
            seen = set(col.categories) | MISSING
            new = sorted({v.strip() for v in table.column(col.name)} - seen)
            if new:
                unknown[col.name] = new
        return unknown

    def encode_target(self, y: np.ndarray) -> np.ndarray:
        """What the model learns from targets ``y``: ``(g(y) - target_mean) / target_std``."""
        if self.target_log:
            if (y <= 0).any():
                raise DataError(f"target {self.target!r}: a log target needs positive values, found {y.min()}")
            y = np.log(y)
        return (y - self.target_mean) / self.target_std

    def decode(self, out: np.ndarray) -> np.ndarray:
        """Model outputs back in target units: ``g⁻¹(out · target_std + target_mean)``."""
        out = out * self.target_std + self.target_mean
        return np.exp(out) if self.target_log else out

    def to_dict(self) -> dict[str, Any]:
        return {"format": "divekit-tabular-transform/1", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "transform") -> TabularTransform:
        """Rebuild from ``to_dict`` output; a ``DataError`` naming ``source`` when it does not fit."""
        try:
            if d.get("format") != "divekit-tabular-transform/1":
                raise ValueError(f"format {d.get('format')!r}")
            d = {k: v for k, v in d.items() if k != "format"}
            d["numeric"] = [NumericColumn(c["name"], float(c["mean"]), float(c["std"])) for c in d["numeric"]]
            d["categorical"] = [CategoricalColumn(c["name"], [str(v) for v in c["categories"]])
                                for c in d["categorical"]]
            return cls(**d)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{source}: not a divekit tabular transform ({type(e).__name__}: {e})") from None

    def save(self, path: str | os.PathLike) -> Path:
        from divekit.runs import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TabularTransform:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: feature transform not found") from None
        except IsADirectoryError:
            raise DataError(f"{path}: is a directory, expected the feature transform JSON file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d if isinstance(d, dict) else {}, str(path))


TABULAR_DATASETS: dict[str, DatasetSpec] = of_kind("tabular")


def locate_tabular(name: str, data_dir: str | os.PathLike | None = None,
                   download: bool = True) -> tuple[DatasetSpec, Path, Path]:
    """``(spec, train csv, test csv)`` of a known tabular dataset, found like every dataset
    (see ``divekit.data.sources``).

    Raises:
        ConfigError: an unknown name, or a ``data_dir`` that is not a folder.
        DataError: found nowhere, and the download was not allowed or failed.
    """
    if name not in TABULAR_DATASETS:
        raise ConfigError(f"unknown tabular dataset {name!r}: expected one of {', '.join(TABULAR_DATASETS)} "
                          f"or a path ending in .csv")
    spec = TABULAR_DATASETS[name]
    files = locate(spec, data_dir, download)
    return spec, files["train"], files["test"]
