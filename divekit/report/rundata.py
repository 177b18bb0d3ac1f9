"""Read what a report needs from a run directory (no torch needed), and the shape of test-set predictions.

A training run holds ``config.json``, ``metrics.csv``, ``summary.json`` (and ``model.safetensors``);
a k-fold run (``divekit kfold``) holds ``config.json`` with ``meta.kind == "kfold"``, ``fold-I/metrics.csv``
and a ``summary.json`` with per-fold final metrics and their mean ± std. Missing optional files give
empty fields, never an error; a directory without ``config.json`` is refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.runs import read_json, read_metrics_csv


@dataclass
class RunData:
    """Everything read from one run directory (no torch needed)."""

    path: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    environment: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    folds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def is_kfold(self) -> bool:
        return self.meta.get("kind") == "kfold" or "folds" in self.summary

    @property
    def final(self) -> dict[str, Any]:
        """Final metrics: summary.json's ``final`` (or k-fold ``mean``), else the last metrics row."""
        if self.is_kfold:
            return dict(self.summary.get("mean", {}))
        return dict(self.summary.get("final") or (self.history[-1] if self.history else {}))


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """metrics.csv rows with numbers parsed (empty cells dropped); none when the file is missing."""
    return read_metrics_csv(path) if path.is_file() else []


def load_run_data(run: str | Path) -> RunData:
    """Read ``run``'s files; raises ``ConfigError`` naming the directory when it is not a run."""
    path = Path(run)
    if not (path / "config.json").is_file():
        raise ConfigError(f"{path}: not a run directory (expected config.json there)")
    raw = read_json(path / "config.json")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path / 'config.json'}: expected a JSON object")
    summary = read_json(path / "summary.json") if (path / "summary.json").is_file() else {}
    folds = {p.name: _read_csv(p / "metrics.csv") for p in sorted(path.glob("fold-*"), key=_fold_number)
             if (p / "metrics.csv").is_file()}
    return RunData(path, raw.get("config") or {}, raw.get("meta") or {}, raw.get("environment") or {},
                   _read_csv(path / "metrics.csv"), summary if isinstance(summary, dict) else {}, folds)


def _fold_number(p: Path) -> tuple[int, str]:
    tail = p.name.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 10**9, p.name)


@dataclass
class Predictions:
    """Test-set predictions in stored order: ``labels``/``predicted`` int64 [N], images uint8 [N, C, H, W];
    optionally each example's ``losses`` (float [N], ``-log p(true class)``: the misclassified are shown most
    confidently wrong first), file ``names``, and the ``split`` they are of (``test`` or ``valid``)."""

    labels: Any
    predicted: Any
    images: Any
    classes: tuple[str, ...]
    losses: Any = None
    names: Any = None
    split: str = "test"

    @property
    def accuracy(self) -> float:
        return float((self.labels == self.predicted).double().mean()) if len(self.labels) else float("nan")

    def confusion(self):
        """``[K, K]`` int64 counts, row = true class, column = predicted class."""
        import torch

        k = len(self.classes)
        return torch.bincount(self.labels * k + self.predicted, minlength=k * k).reshape(k, k)
