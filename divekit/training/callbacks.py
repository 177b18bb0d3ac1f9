"""Early stopping for ``fit``: ``EarlyStopping`` watches one validation metric; after ``patience`` epochs without
improvement it sets ``state.stop`` and, when training ends, puts back the weights of the best epoch.
(``divekit.report.overfitting`` reads the curves afterwards and says in one sentence whether the model overfits.)
"""

from __future__ import annotations

import math
from typing import Any

from divekit.errors import ConfigError
from divekit.report.overfitting import better_is_higher


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a key of the per-epoch metrics row, e.g. ``valid_loss`` or ``valid_log_rmse``.
        patience: epochs without improvement tolerated before stopping (≥ 1).
        mode: ``min``, ``max`` or ``auto`` (``max`` for accuracies, else ``min``).
        min_delta: an improvement must beat the best value by more than this.
        restore_best: load the best epoch's weights back at the end of training.

    After training, ``best_epoch`` (1-based), ``best`` and ``stopped_epoch`` (None if it never stopped)
    are set, and also recorded in ``state.early_stopping``.
    """

    def __init__(self, monitor: str = "valid_loss", patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, restore_best: bool = True) -> None:
        if patience < 1:
            raise ConfigError(f"--patience must be ≥ 1, got {patience}")
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"early stopping mode must be auto, min or max, got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, patience, min_delta, restore_best
        self.higher = better_is_higher(monitor) if mode == "auto" else mode == "max"
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def improved(self, value: float) -> bool:
        if self.best is None:
            return math.isfinite(value)
        return value > self.best + self.min_delta if self.higher else value < self.best - self.min_delta

    def on_epoch_end(self, state) -> None:
        row = state.history[-1]
        if self.monitor not in row:
            raise ConfigError(f"early stopping: metric {self.monitor!r} is not measured; this run has "
                              f"{', '.join(k for k in row if k not in ('epoch', 'step'))} (validation metrics "
                              f"need validation data)")
        value = float(row[self.monitor])
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = row["epoch"]
            state.stop = True

    def on_train_end(self, state) -> None:
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
        state.early_stopping = {"monitor": self.monitor, "best_epoch": self.best_epoch, "best": self.best,
                                         "stopped_epoch": self.stopped_epoch, "restored": self.restore_best}


def final_row(state) -> dict[str, Any]:
    """The metrics of the weights the model ends with: the best epoch when early stopping restored it."""
    stopping = state.early_stopping or {}
    if stopping.get("restored") and stopping.get("best_epoch"):
        return next(r for r in state.history if r["epoch"] == stopping["best_epoch"])
    return state.history[-1] if state.history else {}
