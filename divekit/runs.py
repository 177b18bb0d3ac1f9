"""Run directories, atomic file writes and the metrics.csv reader (no torch import here).

Every command that produces files writes them into a run directory ``runs/<name>/``.
Files are written atomically: a temporary file in the same directory, fsync, then rename,
so a crash never leaves a half-written file where a good one stood.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from divekit.errors import CheckpointError, ConfigError

_UMASK = os.umask(0)
os.umask(_UMASK)
_SEPARATORS = {ord("/"): "-", ord("\\"): "-"}
# metrics.csv columns that count (epochs, optimizer steps) and so are read as integers
_INT_COLUMNS = ("epoch", "step")


# The files that make up a run directory's record: only the run that owns them writes them (``owner=True``).
RECORD_FILES = ("config.json", "metrics.csv", "model.safetensors", "summary.json", "transform.json", "vocab.json")
CHECKPOINT_FOLDER = "checkpoint"


def record_of(path: Path) -> Path | None:
    """The run directory whose record ``path`` is part of (config, metrics, weights, checkpoint, summary, the
    fitted transform or vocabulary), or None."""
    parent = path.parent
    if parent.name == CHECKPOINT_FOLDER and (parent.parent / "config.json").is_file():
        return parent.parent
    if path.name in RECORD_FILES and (parent / "config.json").is_file():
        return parent
    return None


def check_output(path: str | os.PathLike) -> None:
    """Refuse to write over a file of a run directory's record: the one check every writer passes through
    (``atomic_write``), so no command's ``--out`` can destroy a run."""
    path = Path(path)
    run = record_of(path) if path.exists() else None
    if run is not None:
        raise ConfigError(f"{path}: refusing to write over this file: it is part of the record of the run in {run} "
                          f"(its config, metrics, weights, checkpoint or summary); write the output elsewhere")


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb",
                 owner: bool = False) -> Path:
    """Write a file atomically.

    Args:
        path: destination file.
        write: called with an open file object (opened with ``mode``) to write the content.
        mode: ``"wb"`` or ``"w"``.
        owner: the caller is the run that owns ``path`` (training writing its own record); everyone else is
            refused an existing record file (``check_output``).

    Returns:
        The destination path.

    Raises:
        ConfigError: ``path`` is an existing directory or a file of a run's record, its folder cannot be
            made because a file stands where a folder of the path should be, or no file can be created there
            (permissions, a read-only file system).
    """
    path = Path(path)
    if not owner:
        check_output(path)
    # checked before writing anything, so a user's --out naming a folder fails clearly, not at the rename
    if path.is_dir():
        raise ConfigError(f"output path {path} is a directory; expected a file path (a file name inside it, say)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{path}: cannot create the folder {path.parent}: a file stands in its path") from None
    except OSError as e:  # a read-only or special folder (/proc), no permission: nothing was written
        raise ConfigError(f"{path}: cannot write a file in {path.parent} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should be readable like any file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path: str | os.PathLike, text: str, owner: bool = False) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path`` (``owner`` as for ``atomic_write``)."""
    return atomic_write(path, lambda f: f.write(text), mode="w", owner=owner)


def json_safe(obj: Any) -> Any:
    """``obj`` with what JSON cannot hold made plain: a NaN or infinite float becomes ``None`` (also as a dict
    key, where it becomes ``"nan"``, ``"inf"`` or ``"-inf"``), numpy and torch numbers and arrays become Python
    numbers and lists (through ``tolist``), tuples become lists. Anything else is left to the encoder."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {_json_key(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if callable(getattr(obj, "tolist", None)):  # a numpy or torch array or scalar
        return json_safe(obj.tolist())
    return obj


def _json_key(key: Any) -> Any:
    return str(key) if isinstance(key, float) and not math.isfinite(key) else key


def json_text(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as strict JSON text (see ``json_safe``); objects JSON has no form for are written as ``str()``."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False, default=str)


def write_json(path: str | os.PathLike, obj: Any, owner: bool = False) -> Path:
    """Atomically write ``obj`` as indented, strict JSON (``json_text``), which any JSON parser reads.

    JSON has no NaN or Infinity (Python's own ``NaN`` token is refused by strict parsers, jq and JavaScript),
    so a float that is not finite is written as ``null``: the value is undefined. In metrics that means the
    training diverged (a loss of ``inf`` or ``nan``) or the metric has no value for these numbers; the
    tabular log-RMSE, for one, is ``null`` when a target is ≤ 0 (it has no logarithm) or the predictions
    were not finite. A writer that knows why can say so beside the value, in a ``notes`` list of its own.
    """
    return write_text(path, json_text(obj) + "\n", owner=owner)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, raising ``ConfigError`` with the file name when it is missing or malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid JSON (nested too deeply)") from None
    except OSError as e:  # a folder, no permission, an I/O error
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None


def read_metrics_csv(path: str | os.PathLike) -> list[dict[str, int | float]]:
    """The rows of a run's ``metrics.csv``, numbers parsed (``epoch``/``step`` as int), empty cells left out.

    Raises:
        FileNotFoundError: there is no ``path`` (callers decide whether the file is optional).
        ConfigError: the file cannot be read, is not UTF-8, is not well-formed CSV, or a cell is not a
            number; the message names the file, the line and the column.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise  # whether a missing file is an error is the caller's call (a report treats it as optional)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{path}: not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, "
                          f"column {column}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[dict[str, int | float]] = []
    try:
        header = next(reader, [])
        for cells in reader:
            if not cells:  # a blank line, skipped as csv.DictReader does
                continue
            if len(cells) > len(header):
                raise ConfigError(f"{path}: line {reader.line_num} has {len(cells)} cells, but the header "
                                  f"names {len(header)} columns")
            row: dict[str, int | float] = {}
            for number, (key, value) in enumerate(zip(header, cells, strict=False), start=1):
                if value == "":
                    continue
                try:
                    row[key] = int(value) if key in _INT_COLUMNS else float(value)
                except ValueError:
                    kind = "an integer" if key in _INT_COLUMNS else "a number"
                    raise ConfigError(f"{path}: line {reader.line_num}, column {number} ({key!r}): expected "
                                      f"{kind}, got {value!r}") from None
            rows.append(row)
    except csv.Error as e:
        raise ConfigError(f"{path}: line {reader.line_num}: not valid CSV ({e})") from None
    return rows


def default_run_name(prefix: str) -> str:
    """A readable, sortable run name such as ``train-20261123-134501``.

    Path separators in ``prefix`` (a dataset given as a folder, say) become ``-``, so the name stays one
    folder name, as ``new_run_dir`` requires.
    """
    return f"{prefix.translate(_SEPARATORS)}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_run_name(name: str) -> None:
    """Refuse a run name that is not one plain folder name, which could put the run outside its root.

    Raises:
        ConfigError: ``name`` is empty, ``.`` or ``..``, or holds ``/``, ``\\`` or a NUL character.
    """
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"--name {name!r}: expected a single folder name for the run directory "
                          f"(not empty, '.' or '..', no '/' or '\\')")


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """Create a fresh run directory ``root/name`` without ever reusing an existing one.

    If ``root/name`` exists, ``name-2``, ``name-3`` … are tried; creation is atomic (``mkdir``
    fails if another process got there first), so two runs started with the same name never
    share a directory. Fails early with a clear message when the directory is not writable.

    Raises:
        ConfigError: ``name`` is not a single folder name (see ``check_run_name``).
        CheckpointError: the directory cannot be created or written.
    """
    check_run_name(name)
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"cannot create run root {root.resolve()}: {e.strerror}") from None
    for i in range(1, 10_000):
        candidate = root / (name if i == 1 else f"{name}-{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            raise CheckpointError(f"cannot create run directory {candidate.resolve()}: {e.strerror}") from None
        probe = candidate / ".write-test"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as e:
            raise CheckpointError(f"run directory {candidate.resolve()} is not writable: {e.strerror}") from None
        return candidate
    raise CheckpointError(f"too many runs named {name!r} under {root}")


def resolve_run_dir(run: str | os.PathLike, root: str | os.PathLike = "runs") -> Path:
    """Find an existing run directory given as a path or as a name under ``root``."""
    for candidate in (Path(run), Path(root) / run):
        if (candidate / "config.json").is_file():
            return candidate
    raise ConfigError(
        f"run {run!r} not found: expected a directory holding config.json "
        f"(tried {Path(run).resolve()} and {(Path(root) / run).resolve()}; cwd is {Path.cwd()})"
    )
