"""Live training curves: ``RUN/live.png`` rewritten during training, and a figure redrawn in a notebook.

Drawing takes at most about 5 % of a run: the first redraw comes once training has run for
``FIRST_COST / max_share`` seconds (5 s), and each later one at least ``max(min_interval, cost / max_share)``
seconds after the one before, ``cost`` being what that one took (0.1–0.2 s on 2 cores); the last epoch is always
drawn. A run of a few seconds is drawn once, at its end.

The book's ``Animator`` as a ``fit`` callback. In a terminal, open ``RUN/live.png`` in any image viewer
that reloads on change; the file is replaced atomically, so a viewer never reads half a PNG. In Jupyter
the same figure is shown below the cell and updated in place each epoch::

    from divekit.report.live import LivePlot
    fit(model, train_loader, config, test_loader=test_loader, callbacks=[LivePlot()])

One figure is kept for the whole run and only its panels are redrawn, with a fixed layout: a redraw costs
a tenth of building and tightly laying out a new figure, which matters when an epoch takes seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from divekit.report.plots import _in_notebook

FIRST_COST = 0.25  # seconds a first redraw is assumed to take: with max_share 0.05, none before 5 s of training


class LivePlot:
    """Callback drawing loss/accuracy curves (train vs valid/test) and the learning rate at epoch ends, spaced
    so that drawing takes at most ``max_share`` of the run (see the module docstring), and at the last epoch.

    Args:
        path: PNG to rewrite; default ``RUN/live.png`` when ``RunWriter`` put the run directory in
            ``state.run_dir`` (set by the run pipeline), else no file.
        notebook: also display and update the figure in a notebook (default: when running in Jupyter).
        min_interval: seconds between two redraws, at the least.
        max_share: the most of the wall time drawing may take; None: every epoch past ``min_interval``.
    """

    def __init__(self, path: str | Path | None = None, notebook: bool | None = None,
                 min_interval: float = 1.0, max_share: float | None = 0.05) -> None:
        self.path = Path(path) if path else None
        self.notebook = _in_notebook() if notebook is None else notebook
        self.handle: Any = None
        self.fig: Any = None
        # a redraw costs ~0.1-0.2 s (the first also imports matplotlib, ~0.3 s): with epochs of a few seconds,
        # drawing each one would add a tenth to the run, so redraws are spaced by their own cost (module docstring)
        self.min_interval, self.max_share = min_interval, max_share
        self.drawn_at, self.cost, self.drawn_epochs = time.monotonic(), FIRST_COST, 0

    def on_train_start(self, state) -> None:
        self.drawn_at = time.monotonic()
        if self.path is None and getattr(state, "run_dir", None):
            self.path = Path(state.run_dir) / "live.png"

    def gap(self) -> float:
        """Seconds from the last redraw (or the start) before the next may come."""
        return max(self.min_interval, self.cost / self.max_share if self.max_share else 0.0)

    def on_epoch_end(self, state) -> None:
        if not state.history or (self.path is None and not self.notebook):
            return
        last = len(state.history) >= state.config.epochs
        if last or time.monotonic() - self.drawn_at >= self.gap():
            start = time.monotonic()
            self._draw(state, last)
            self.drawn_at, self.drawn_epochs = time.monotonic(), len(state.history)
            self.cost = self.drawn_at - start

    def _draw(self, state, last: bool) -> None:
        from divekit.report.figures import CURVES_DPI, progress_figure
        from divekit.report.plots import figure_png

        self.fig = progress_figure(state.history, state.config.epochs, self.fig)
        if self.notebook:
            self._show(self.fig)
        if self.path is not None:
            from divekit.runs import atomic_write

            # the redraws in between are seen once and replaced: quick to encode (0.12 s an epoch; level 6: 0.19 s)
            png = figure_png(self.fig, dpi=CURVES_DPI if last else 80, tight=False, close=False,
                             compress_level=6 if last else 1)
            atomic_write(self.path, lambda f: f.write(png))
            if last:  # the run's curves.png is this very figure: handed over instead of drawn again
                state.curves_png = (len(state.history), png)

    def on_train_end(self, state) -> None:
        if state.history and self.drawn_epochs < len(state.history) and (self.path or self.notebook):
            self._draw(state, False)  # stopped early, or epochs skipped by the interval: show where it ended
        if self.fig is not None:
            from divekit.report.plots import pyplot

            pyplot().close(self.fig)
            self.fig = None

    def _show(self, fig) -> None:
        from IPython.display import display  # only reached inside a notebook

        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
