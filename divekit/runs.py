"""Run directories and atomic file writes (no torch import here).

Every command that produces files writes them into a run directory ``runs/<name>/``.
Files are written atomically: a temporary file in the same directory, fsync, then rename,
so a crash never leaves a half-written file where a good one stood.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from divekit.errors import CheckpointError, ConfigError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write a file atomically.

    Args:
        path: destination file.
        write: called with an open file object (opened with ``mode``) to write the content.
        mode: ``"wb"`` or ``"w"``.

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write(path, lambda f: f.write(text), mode="w")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


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


def default_run_name(prefix: str) -> str:
    """A readable, sortable run name such as ``train-20261123-134501``."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """Create a fresh run directory ``root/name`` without ever reusing an existing one.

    If ``root/name`` exists, ``name-2``, ``name-3`` … are tried; creation is atomic (``mkdir``
    fails if another process got there first), so two runs started with the same name never
    share a directory. Fails early with a clear message when the directory is not writable.
    """
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
