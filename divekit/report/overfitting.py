"""Reading train/validation curves: whether (and from which epoch) a model overfits, in one sentence, and the
train-against-validation figure of one run or of k folds."""

from __future__ import annotations

import math
from typing import Any

# metrics where larger is better; every other metric is a loss or an error (smaller is better)
HIGHER_IS_BETTER = ("acc",)


def better_is_higher(metric: str) -> bool:
    return metric.rsplit("_", 1)[-1] in HIGHER_IS_BETTER


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
    sign = -1.0 if better_is_higher(metric) else 1.0
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
