"""The report's figures, each rendered to PNG bytes: curves, learning rate, confusion matrix, image tiles.

Curves take ``series``: a mapping ``label -> history`` (one metrics row per epoch). One run is
``{"": history}``; a comparison or the folds of k-fold cross-validation are several labelled histories,
overlaid with one colour per label (train solid, validation dashed, test dotted).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from divekit.report.plots import figure_png, pyplot

SPLITS = (("train", "-", "o"), ("valid", "--", "s"), ("test", ":", "^"))
LABELS = {"loss": "loss", "acc": "accuracy", "log_rmse": "log RMSE", "rmse": "RMSE"}

History = list[dict[str, Any]]
CURVES_DPI = 100  # curves.png (and the last live.png, which becomes it); live.png while training: 80
# matplotlib's tick code overflows on axes near float's limit (1e308); a loss past this has diverged anyway
PLOT_LIMIT = 1e15


def metrics_in(series: dict[str, History]) -> list[str]:
    """Metric names (``loss``, ``acc``, …) measured on at least one split, in a stable order."""
    found = dict.fromkeys(key.split("_", 1)[1] for h in series.values() for row in h for key in row
                          if key.split("_", 1)[0] in ("train", "valid", "test") and "_" in key)
    return sorted(found, key=lambda m: (m != "loss", m != "acc", m))


def _plottable(value: Any) -> float:
    """``value`` as a point matplotlib can place: NaN (a gap in the line) for a missing, non-finite or
    non-numeric value, a finite one clipped to ``±PLOT_LIMIT``."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float's range
        return math.nan
    return min(max(x, -PLOT_LIMIT), PLOT_LIMIT) if math.isfinite(x) else math.nan


def _column(history: History, key: str) -> list[float]:
    return [_plottable(r.get(key, math.nan)) for r in history]


def _epochs(history: History) -> list[float]:
    """Each row's epoch (its position when it has none): the x values of every curve."""
    return [_plottable(r.get("epoch", j + 1)) for j, r in enumerate(history)]


def _clipped(series: dict[str, History], keys: Sequence[str]) -> bool:
    """Whether some finite value of ``keys`` lies beyond ``±PLOT_LIMIT`` (and so is drawn clipped)."""
    return any(abs(_plottable(r[k])) >= PLOT_LIMIT for h in series.values() for r in h for k in keys if k in r)


def _title(ax, text: str, clipped: bool) -> None:
    ax.set_title(f"{text} (clipped at ±{PLOT_LIMIT:.0e})" if clipped else text)


def integer_epochs(ax) -> None:
    """Whole-number ticks on the epoch axis (a 1-epoch run must not read 0.96 … 1.04)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # with 2, one epoch gets 0.945 …
    ax.set_xlabel("epoch")


def draw_metric(ax, series: dict[str, History], metric: str) -> None:
    """One metric's panel: every (label, split) pair measured is a line against the epoch."""
    colours = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, history) in enumerate(series.items()):
        epochs = _epochs(history)
        for split, line, marker in SPLITS:
            key = f"{split}_{metric}"
            if any(key in r for r in history):
                name = f"{label} {split}".strip()
                colour = colours[i % len(colours)] if len(series) > 1 else None
                ax.plot(epochs, _column(history, key), linestyle=line if len(series) > 1 else "-",
                        marker=marker, markersize=3, color=colour, label=name)
    integer_epochs(ax)
    ax.set_ylabel(LABELS.get(metric, metric))
    _title(ax, LABELS.get(metric, metric), _clipped(series, [f"{split}_{metric}" for split, _, _ in SPLITS]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if len(series) > 2 else 9)


def draw_lr(ax, series: dict[str, History]) -> None:
    """The learning rate of each epoch's last step (metrics.csv's ``lr`` column)."""
    for label, history in series.items():
        if any("lr" in r for r in history):
            ax.plot(_epochs(history), _column(history, "lr"), "-o", markersize=3, label=label or "lr")
    integer_epochs(ax)
    ax.set_ylabel("learning rate (end of epoch)")
    if _clipped(series, ["lr"]):
        _title(ax, "learning rate", True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def has_lr(series: dict[str, History]) -> bool:
    return any("lr" in r for h in series.values() for r in h)


def curves_png(series: dict[str, History], metrics: Sequence[str] | None = None) -> bytes | None:
    """One panel per metric (see ``draw_metric``), as PNG bytes; None when nothing was measured."""
    metrics = list(metrics or metrics_in(series))
    if not metrics or not any(series.values()):
        return None
    fig, axes = pyplot().subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        draw_metric(ax, series, metric)
    return figure_png(fig)


def progress_figure(history: History, epochs: int, fig: Any = None):
    """A run's loss, accuracy (when measured) and learning-rate panels over a fixed ``1..epochs`` axis, drawn
    into ``fig`` when it has the right panels (else a new figure, laid out once: no tight bounding box to
    measure on every redraw). ``live.png`` during training, ``curves.png`` at the end."""
    series = {"": history}
    panels = metrics_in(series)[:2] + (["lr"] if has_lr(series) else [])
    if fig is None or len(fig.axes) != len(panels):
        if fig is not None:
            pyplot().close(fig)
        fig, _ = pyplot().subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.9, wspace=0.32)
    for ax, metric in zip(fig.axes, panels, strict=True):
        ax.cla()
        if metric == "lr":
            draw_lr(ax, series)
            _title(ax, "learning rate", _clipped(series, ["lr"]))
        else:
            draw_metric(ax, series, metric)
        ax.set_xlim(0.5, max(epochs, len(history)) + 0.5)
        ax.set_ylabel("")
    return fig


def progress_png(history: History, epochs: int | None = None, dpi: int = CURVES_DPI) -> bytes | None:
    """``progress_figure`` as PNG bytes (None when nothing was measured)."""
    if not history or not metrics_in({"": history}):
        return None
    return figure_png(progress_figure(history, epochs or len(history)), dpi=dpi, tight=False)


def lr_png(series: dict[str, History]) -> bytes | None:
    """The learning-rate panel alone (see ``draw_lr``) as PNG bytes; None without an ``lr`` column."""
    if not has_lr(series):
        return None
    fig, ax = pyplot().subplots(figsize=(5.2, 3.2))
    draw_lr(ax, series)
    return figure_png(fig)


def confusion_png(matrix, classes: Sequence[str]) -> bytes:
    """Counts of (true row, predicted column) with each cell annotated; the diagonal is what went right."""
    plt = pyplot()
    n = len(classes)
    size = max(4.0, 0.5 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(matrix, cmap="Blues")
    top = max(int(matrix.max()), 1)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = int(matrix[i, j])
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7 if n > 10 else 8,
                        color="white" if value > top / 2 else "black")
    ax.set_xticks(range(n), [str(c) for c in classes], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(c) for c in classes], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return figure_png(fig)


def tile_png(image) -> bytes:
    """One image ``uint8 [C, H, W]`` (C = 1 or 3) as a small PNG, pixels unchanged."""
    from PIL import Image

    array = image.numpy() if hasattr(image, "numpy") else image
    pil = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
