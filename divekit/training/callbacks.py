"""Regularisation helpers for ``fit``: early stopping, and a plain-words overfitting report.

``EarlyStopping`` watches one validation metric; after ``patience`` epochs without improvement it sets
``state.stop`` and, when training ends, puts back the weights of the best epoch.

``overfitting_sentence(history)`` reads the train/validation curves and says in one sentence whether
(and from which epoch) the gap between them grows.
"""

from __future__ import annotations

import math
from typing import Any

from divekit.errors import ConfigError

# metrics where larger is better; every other metric is a loss or an error (smaller is better)
HIGHER_IS_BETTER = ("acc",)


def _better_is_higher(metric: str) -> bool:
    return metric.rsplit("_", 1)[-1] in HIGHER_IS_BETTER


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
        self.higher = _better_is_higher(monitor) if mode == "auto" else mode == "max"
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


def pick_metric(history: list[dict[str, Any]]) -> str | None:
    """The metric compared by ``overfitting_sentence``: log_rmse, else loss, else acc, if both splits have it."""
    keys = {k for row in history for k in row}
    for metric in ("log_rmse", "loss", "acc"):
        if f"train_{metric}" in keys and f"valid_{metric}" in keys:
            return metric
    return None


def overfitting_sentence(history: list[dict[str, Any]], metric: str | None = None, tolerance: float = 0.05) -> str:
    """One sentence on the train/validation gap of ``history`` (rows with ``train_M``/``valid_M``).

    The gap is ``valid - train`` for losses (``train - valid`` for accuracies). The model overfits when,
    after the epoch ``b`` of the best validation value, the validation metric has got worse by more than
    ``tolerance`` (relative to the best) and the gap has grown by as much; the sentence names epoch ``b``.
    A gap growing after ``b`` while the validation metric has not got much worse is reported as a start
    of overfitting; a validation metric that worsens together with the training one as unstable training.
    """
    metric = metric or pick_metric(history)
    rows = [r for r in history if metric and f"train_{metric}" in r and f"valid_{metric}" in r]
    if not rows:
        return "No validation metrics were recorded, so overfitting cannot be judged (hold out validation data)."
    sign = -1.0 if _better_is_higher(metric) else 1.0
    train = [float(r[f"train_{metric}"]) for r in rows]
    valid = [float(r[f"valid_{metric}"]) for r in rows]
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    gap = [sign * (v - t) for t, v in zip(train, valid, strict=True)]
    b = min(range(len(rows)), key=lambda i: sign * valid[i])
    scale = tolerance * max(abs(valid[b]), 1e-12)
    worse = sign * (valid[-1] - valid[b]) > scale
    widened = gap[-1] - gap[b] > scale
    name = metric.replace("_", "-")
    if worse and widened:
        return (f"Overfitting from epoch {epochs[b]}: validation {name} is best there ({valid[b]:.4g}) and then "
                f"gets worse ({valid[-1]:.4g} at epoch {epochs[-1]}) while training {name} goes from {train[b]:.4g} "
                f"to {train[-1]:.4g}; the gap grows from {gap[b]:.3g} to {gap[-1]:.3g}.")
    if worse:
        return (f"Validation {name} gets worse after epoch {epochs[b]} ({valid[b]:.4g} → {valid[-1]:.4g}) but so "
                f"does training {name}, and the gap does not grow ({gap[b]:.3g} → {gap[-1]:.3g}): unstable "
                f"training (try a smaller learning rate) rather than overfitting.")
    if widened:
        return (f"The gap between validation and training {name} grows from {gap[b]:.3g} at epoch {epochs[b]} to "
                f"{gap[-1]:.3g} at epoch {epochs[-1]}, but validation {name} has not got much worse (best "
                f"{valid[b]:.4g} at epoch {epochs[b]}, last {valid[-1]:.4g}): overfitting is starting.")
    if b == len(rows) - 1:
        return (f"No sign of overfitting: validation {name} is still at its best at the last epoch, {epochs[b]} "
                f"({valid[b]:.4g}, {gap[b]:.3g} from training); more epochs or a larger model may help.")
    return (f"No sign of overfitting: validation {name} is best at epoch {epochs[b]} ({valid[b]:.4g}) and the gap "
            f"to training does not grow after it ({gap[b]:.3g} then, {gap[-1]:.3g} at epoch {epochs[-1]}).")


def mean_history(histories: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-epoch mean of several runs' metrics (k-fold), over the epochs that every run reached."""
    n = min(len(h) for h in histories)
    keys = [k for k in histories[0][0] if k.startswith(("train_", "valid_"))]
    return [{"epoch": e + 1, **{k: sum(h[e][k] for h in histories) / len(histories) for k in keys}}
            for e in range(n)]


def plot_train_valid(path, histories: list[list[dict[str, Any]]], metric: str, title: str = "",
                     log_scale: bool = False):
    """Train (solid) against validation (dashed) ``metric`` per epoch: one thin line per run and, with
    several runs (k-fold), their mean in bold. Saved as PNG at ``path``."""
    from divekit.report.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    many = len(histories) > 1
    for split, style, colour in (("train", "-", "C0"), ("valid", "--", "C1")):
        key = f"{split}_{metric}"
        for i, h in enumerate(histories):
            ax.plot([r["epoch"] for r in h], [r.get(key, math.nan) for r in h], style, color=colour,
                    lw=0.8 if many else 1.8, alpha=0.45 if many else 1.0,
                    label=None if many and i else (f"{split} (each fold)" if many else split))
        if many:
            mean = mean_history(histories)
            ax.plot([r["epoch"] for r in mean], [r[key] for r in mean], style, color=colour, lw=2.2,
                    label=f"{split} (mean)")
    if log_scale:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=metric.replace("_", "-"), title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
