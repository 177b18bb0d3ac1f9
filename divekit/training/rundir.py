"""Read and write the run-directory contract: config.json, metrics.csv, model.safetensors, curves.png."""

from __future__ import annotations

import csv
import io
import platform
from pathlib import Path
from typing import Any

import torch

from divekit.errors import CheckpointError
from divekit.runs import atomic_write, read_json, read_metrics_csv, write_json
from divekit.training.config import TrainConfig


def environment() -> dict[str, Any]:
    """Versions and hardware recorded with each run."""
    import numpy

    from divekit import __version__

    return {"divekit": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def write_config(run_dir: Path, config: TrainConfig, meta: dict[str, Any]) -> None:
    """``config.json``: the full TrainConfig plus what was resolved at run time (shapes, classes, versions)."""
    write_json(run_dir / "config.json", {"config": config.to_dict(), "meta": meta, "environment": environment()},
               owner=True)


def read_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    raw = read_json(run_dir / "config.json")
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        raise CheckpointError(f"{run_dir / 'config.json'}: expected an object with a 'config' entry")
    return TrainConfig.from_dict(raw["config"], str(run_dir / "config.json")), raw.get("meta", {})


def write_metrics(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """``metrics.csv``, one row per epoch, floats written exactly (repr) so identical runs compare equal."""
    if not history:
        return
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write(run_dir / "metrics.csv", lambda f: f.write(buf.getvalue()), mode="w", owner=True)


def read_metrics(run_dir: Path) -> list[dict[str, int | float]]:
    """``metrics.csv``'s rows, one dict per epoch (``epoch``/``step`` as int, empty cells left out).

    Raises:
        FileNotFoundError: the run has no ``metrics.csv``.
        ConfigError: it is not UTF-8, not CSV, or holds a cell that is not a number; the message names the
            file, the line and the column.
    """
    return read_metrics_csv(run_dir / "metrics.csv")


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Save the state dict as safetensors, atomically."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(tensors)
    atomic_write(path, lambda f: f.write(data), owner=True)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (no pickle involved, so nothing can execute)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def load_weights(model: torch.nn.Module, path: Path) -> torch.nn.Module:
    """Load safetensors weights into ``model`` (see ``load_fitting``)."""
    load_fitting(model, read_weights(path), path)
    return model


def load_fitting(model: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """``model.load_state_dict(weights)``, or a ``CheckpointError`` naming ``path`` and what does not fit, or
    which tensors hold NaN or infinite values (a model restored from them would only ever predict garbage)."""
    check_finite(weights, path)
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        raise CheckpointError(f"{path}: weights do not fit the model: {misfit(model.state_dict(), weights)}; "
                              f"were they saved for other model options or by another divekit version?") from None


def check_finite(weights: dict[str, torch.Tensor], path: Path, shown: int = 3) -> None:
    """``CheckpointError`` naming ``path`` and its first tensors that hold NaN or ±inf."""
    bad = [name for name, t in weights.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        names = ", ".join(bad[:shown]) + (", …" if len(bad) > shown else "")
        raise CheckpointError(f"{path}: {len(bad)} tensor(s) hold NaN or infinite values ({names}); these weights "
                              f"come from a run that diverged or a damaged file, and cannot be used")


def misfit(expected: dict[str, torch.Tensor], saved: dict[str, torch.Tensor], shown: int = 3) -> str:
    """What keeps ``saved`` from loading into a model whose state dict is ``expected``, in one line."""
    def some(names: list[str]) -> str:
        return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")

    missing = [k for k in expected if k not in saved]
    extra = sorted(k for k in saved if k not in expected)
    shapes = [f"{k} saved {list(saved[k].shape)}, model {list(v.shape)}" for k, v in expected.items()
              if k in saved and saved[k].shape != v.shape]
    parts = [f"{len(missing)} tensor(s) missing ({some(missing)})" if missing else "",
             f"{len(extra)} the model does not have ({some(extra)})" if extra else "",
             f"{len(shapes)} of another shape ({some(shapes)})" if shapes else ""]
    return "; ".join(p for p in parts if p) or "the tensors differ"


def plot_curves(run_dir: Path, history: list[dict[str, Any]], drawn: bytes | None = None) -> bytes | None:
    """Write ``curves.png``: loss and accuracy per epoch, train against valid/test, and the learning rate (the
    final ``live.png``'s figure; ``drawn``: that PNG when already rendered). Returns the PNG (None when nothing
    was measured), so the report can embed it without drawing it again."""
    from divekit.report.figures import progress_png
    from divekit.runs import atomic_write

    png = drawn or progress_png(history)
    if png:
        atomic_write(run_dir / "curves.png", lambda f: f.write(png))
    return png
