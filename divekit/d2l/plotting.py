"""The book's plotting helpers, usable without a display.

``Animator`` redraws inline in Jupyter. Anywhere else it prints one line per ``add`` call and keeps a PNG
of the figure up to date, under ``$DIVEKIT_FIGURES`` or the system temporary folder, never the current
directory. Saving is throttled so that it takes at most ~5% of the wall time (at most once a second, and
again at exit), because training loops call ``add`` several times per epoch.
"""

from __future__ import annotations

import atexit
import itertools
import os
import tempfile
import time
from pathlib import Path

import torch

from divekit.report.plots import _in_notebook, pyplot

plt = pyplot()
_FIGURE_IDS = itertools.count(1)
_SCRIPT_ANIMATORS: list = []


def use_svg_display() -> None:
    """SVG figures in Jupyter; nothing to do elsewhere."""
    if _in_notebook():
        try:
            from matplotlib_inline import backend_inline

            backend_inline.set_matplotlib_formats("svg")
        except ImportError:  # pragma: no cover - Jupyter ships it
            pass


def set_figsize(figsize=(3.5, 2.5)) -> None:
    """Default figure size for the following plots (inches)."""
    use_svg_display()
    plt.rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Apply labels, limits, scales, legend and a grid to ``axes``."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _as_series(X, Y):
    """Normalise the book's flexible ``plot`` arguments to two equal-length lists of sequences."""
    def one_dim(a):
        return (hasattr(a, "ndim") and a.ndim == 1) or (isinstance(a, list) and not hasattr(a[0], "__len__"))

    if one_dim(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif one_dim(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    return X, Y


def _np(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
         yscale="linear", fmts=("-", "m--", "g-.", "r:"), figsize=(3.5, 2.5), axes=None):
    """Plot one or several curves: ``Y`` against ``X`` (or against their index when ``Y`` is None)."""
    if legend is None:
        legend = []
    set_figsize(figsize)
    axes = axes if axes else plt.gca()
    X, Y = _as_series(X, Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, itertools.cycle(fmts)):
        if len(x):
            axes.plot(_np(x), _np(y), fmt)
        else:
            axes.plot(_np(y), fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
    return axes


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """A grid of images (tensors ``[H, W]``/``[H, W, C]`` or arrays), with optional titles."""
    _, axes = plt.subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale))
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(_np(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes


def figures_dir() -> Path:
    """Where scripts' animated figures go: ``$DIVEKIT_FIGURES``, else ``<tmp>/divekit-d2l``."""
    return Path(os.environ.get("DIVEKIT_FIGURES") or Path(tempfile.gettempdir()) / "divekit-d2l")


class Animator:
    """Curves that grow point by point (``add(x, ys)``), e.g. losses per epoch.

    In Jupyter the figure is redrawn in place. In a script each ``add`` prints
    ``<xlabel> <x>: <legend 1> <y1>, …`` and the PNG (path printed once) is refreshed.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5)):
        self.legend = list(legend or [])
        self.xlabel, self.ylabel = xlabel, ylabel
        use_svg_display()
        self.fig, axes = plt.subplots(nrows, ncols, figsize=figsize)
        self.axes = [axes] if nrows * ncols == 1 else list(axes.flatten())
        self.config_axes = lambda: set_axes(self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale,
                                            self.legend)
        self.X, self.Y, self.fmts = None, None, fmts
        self.notebook = _in_notebook()
        self.png = None if self.notebook else figures_dir() / f"animator-{os.getpid()}-{next(_FIGURE_IDS)}.png"
        self._saved_at, self._save_gap = 0.0, 1.0  # last save (monotonic s), min seconds to the next one
        self._dirty = False
        if self.png is not None:
            _SCRIPT_ANIMATORS.append(self)

    def add(self, x, y) -> None:
        """Append the point(s) ``(x, y_i)``; ``y`` is a number or one value (or None) per curve."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=False)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if self.notebook:
            from IPython import display

            self._redraw()
            display.display(self.fig)
            display.clear_output(wait=True)
        else:
            self._print(x[0], y)
            self._save(force=False)

    def _redraw(self) -> None:
        self.axes[0].cla()
        for x, y, fmt in zip(self.X, self.Y, itertools.cycle(self.fmts)):
            self.axes[0].plot(x, y, fmt)
        self.config_axes()

    def _print(self, x, ys) -> None:
        names = self.legend or ([self.ylabel] if self.ylabel else [f"y{i}" for i in range(len(ys))])
        parts = [f"{name} {float(v):.4g}" for name, v in zip(names, ys, strict=False) if v is not None]
        xs = f"{x:.2f}" if isinstance(x, float) and not float(x).is_integer() else f"{x:g}"
        print(f"{self.xlabel or 'x'} {xs}: " + ", ".join(parts), flush=True)

    def _save(self, force: bool) -> None:
        self._dirty = True
        if not force and time.monotonic() - self._saved_at < self._save_gap:
            return  # throttled: written by a later add or at exit
        first = self._saved_at == 0.0
        self.png.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        self._redraw()  # only when saving: a redraw per point costs more than the point's training here
        self.fig.savefig(self.png, dpi=90, bbox_inches="tight")
        self._saved_at, self._dirty = time.monotonic(), False
        self._save_gap = max(1.0, 20 * (self._saved_at - start))  # saving ≤ 1/20 of the time between saves
        if first:
            print(f"(figure: {self.png})", flush=True)

    def close(self) -> None:
        """Write the final PNG and release the figure."""
        if self.png is not None and self._dirty:
            self._save(force=True)
        plt.close(self.fig)


@atexit.register
def _flush_pending() -> None:
    for animator in _SCRIPT_ANIMATORS:
        if animator._dirty:
            animator._save(force=True)
