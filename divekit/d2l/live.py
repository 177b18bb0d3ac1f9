"""One live figure per plotter (``Animator``, ``ProgressBoard``), redrawn in place and throttled.

In Jupyter the figure is shown once with a display id and that same output is updated (``update_display_data``),
so VS Code, PyCharm, Colab and JupyterLab show one image that changes, instead of a new image per point after a
``clear_output`` (which flickers, or leaves nothing, in several front ends). No ipywidgets are needed. Outside
Jupyter the figure is a PNG under ``$DIVEKIT_FIGURES`` (default ``<tmp>/divekit-d2l``), path printed once.

Either way a redraw happens at most once per ``gap`` seconds, where ``gap`` is at least 20 times the latest redraw's
cost in this process (so drawing takes at most ~5 % of the time) and at least ``MIN_GAP``, also before the first
redraw of a new figure; a point that arrives inside the gap is drawn at the next redraw, when the training function
returns, at the end of the Jupyter cell, or at exit. So a figure whose points all come within the gap is drawn once,
and that one redraw per figure is the whole cost of plotting for a short training.
"""

from __future__ import annotations

import atexit
import itertools
import os
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from divekit.report.plots import _in_notebook

MIN_GAP = 1.0  # seconds between two redraws of one figure (and from its creation to the first), at the least
COST_SHARE = 20  # gap ≥ COST_SHARE × the last redraw's seconds: drawing ≤ 1/20 of the wall time
_IDS = itertools.count(1)
_PENDING: weakref.WeakSet = weakref.WeakSet()
_HOOKED = False
STATS = {"seconds": 0.0, "redraws": 0}  # drawing time of all live figures in this process (for measurements)
_LAST_COST = [0.05]  # seconds of the latest redraw in this process: a new figure's first gap is based on it


def figures_dir() -> Path:
    """Where scripts' animated figures go: ``$DIVEKIT_FIGURES``, else ``<tmp>/divekit-d2l``."""
    return Path(os.environ.get("DIVEKIT_FIGURES") or Path(tempfile.gettempdir()) / "divekit-d2l")


def new_figure(figsize, nrows: int = 1, ncols: int = 1):
    """A matplotlib figure and its axes list, not registered with pyplot: Jupyter's inline backend shows every
    pyplot figure again at the end of a cell, which would duplicate the live display."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(nrows, ncols)
    return fig, ([axes] if nrows * ncols == 1 else list(axes.flatten()))


class LiveFigure:
    """Shows ``fig`` in place; ``changed(redraw)`` marks new data, ``flush()`` draws what is pending now."""

    def __init__(self, fig, kind: str = "figure") -> None:
        self.fig = fig
        self.notebook = _in_notebook()
        self.handle = None
        self.png = None if self.notebook else figures_dir() / f"{kind}-{os.getpid()}-{next(_IDS)}.png"
        self.redraw: Callable[[], None] | None = None
        # last redraw (creation time until the first), min gap to the next, total redraw seconds
        self.shown_at, self.gap, self.seconds = time.monotonic(), max(MIN_GAP, COST_SHARE * _LAST_COST[0]), 0.0
        self.dirty, self.shown = False, False
        if self.notebook:
            _hook_cell_end()

    def changed(self, redraw: Callable[[], None]) -> None:
        """New data: redraw now unless the last redraw was less than ``gap`` seconds ago."""
        self.redraw, self.dirty = redraw, True
        _PENDING.add(self)
        if time.monotonic() - self.shown_at >= self.gap:
            self.flush()

    def flush(self) -> None:
        """Redraw and show the figure if a change is pending."""
        if not self.dirty or self.redraw is None:
            return
        start = time.monotonic()
        self.redraw()
        first, self.shown = not self.shown, True
        if self.notebook:
            self._show()
        else:
            self.png.parent.mkdir(parents=True, exist_ok=True)
            self.fig.savefig(self.png, dpi=90, bbox_inches="tight")
            if first:
                print(f"(figure: {self.png})", flush=True)
        self.shown_at = time.monotonic()
        self.seconds += self.shown_at - start
        STATS["seconds"] += self.shown_at - start
        STATS["redraws"] += 1
        _LAST_COST[0] = self.shown_at - start
        self.gap = max(MIN_GAP, COST_SHARE * _LAST_COST[0])
        self.dirty = False
        _PENDING.discard(self)

    def _show(self) -> None:
        from IPython import display

        if self.handle is None:
            self.handle = display.display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)


def flush_all() -> None:
    """Draw every live figure that has undrawn points."""
    for live in list(_PENDING):
        live.flush()


def _hook_cell_end() -> None:
    """Jupyter: draw pending points when a cell finishes (the last ``add`` may fall inside the gap)."""
    global _HOOKED
    if _HOOKED:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_run_cell", lambda *args: flush_all())
        _HOOKED = True


atexit.register(flush_all)
