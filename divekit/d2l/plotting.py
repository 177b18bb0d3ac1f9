"""The book's plotting helpers, usable without a display.

``Animator`` is one display updated in place in Jupyter. Anywhere else it prints one line per ``add`` call and
keeps a PNG of the figure up to date, under ``$DIVEKIT_FIGURES`` or the system temporary folder, never the
current directory. Redrawing is throttled so that it takes at most ~5 % of the wall time (``divekit.d2l.live``),
because training loops call ``add`` several times per epoch.
"""

from __future__ import annotations

import itertools

import torch

from divekit.d2l.live import LiveFigure, new_figure
from divekit.report.plots import _in_notebook, pyplot

plt = pyplot()


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


def usable_limits(lim):
    """``lim`` as axis limits, or ``None`` (fit the data) for a range of zero width: a one-epoch run's
    ``xlim=[1, num_epochs]`` would make matplotlib warn and widen it on every redraw."""
    return None if lim is not None and len(lim) == 2 and lim[0] == lim[1] else lim


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Apply labels, limits, scales, legend and a grid to ``axes``."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(usable_limits(xlim))
    axes.set_ylim(usable_limits(ylim))
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


def print_point(xlabel, x, names, ys) -> None:
    """One terminal line per plotted point: ``<xlabel> <x>: <name 1> <y1>, …`` (None values left out)."""
    parts = [f"{name} {float(v):.4g}" for name, v in zip(names, ys, strict=False) if v is not None]
    xs = f"{x:.2f}" if isinstance(x, float) and not float(x).is_integer() else f"{x:g}"
    print(f"{xlabel or 'x'} {xs}: " + ", ".join(parts), flush=True)


class Animator:
    """Curves that grow point by point (``add(x, ys)``), e.g. losses per epoch.

    In Jupyter the figure is one display updated in place (throttled, see ``divekit.d2l.live``). In a script
    each ``add`` prints ``<xlabel> <x>: <legend 1> <y1>, …`` and the PNG (path printed once) is refreshed.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5)):
        self.legend = list(legend or [])
        self.xlabel, self.ylabel = xlabel, ylabel
        use_svg_display()
        self.fig, self.axes = new_figure(figsize, nrows, ncols)
        self.config_axes = lambda: set_axes(self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale,
                                            self.legend)
        self.X, self.Y, self.fmts = None, None, fmts
        self.live = LiveFigure(self.fig, "animator")
        self.notebook, self.png = self.live.notebook, self.live.png

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
        if not self.notebook:
            names = self.legend or ([self.ylabel] if self.ylabel else [f"y{i}" for i in range(n)])
            print_point(self.xlabel, x[0], names, y)
        self.live.changed(self._redraw)

    def _redraw(self) -> None:
        self.axes[0].cla()
        for x, y, fmt in zip(self.X, self.Y, itertools.cycle(self.fmts)):
            self.axes[0].plot(x, y, fmt)
        self.config_axes()

    def close(self) -> None:
        """Draw what is pending (the final PNG in a script)."""
        self.live.flush()
