"""Live training curves: ``RUN/live.png`` rewritten after every epoch (at most once a second), and a figure
redrawn in a notebook.

The book's ``Animator`` as a ``fit`` callback. In a terminal, open ``RUN/live.png`` in any image viewer
that reloads on change; the file is replaced atomically, so a viewer never reads half a PNG. In Jupyter
the same figure is shown below the cell and updated in place each epoch::

    from divekit.report.live import LivePlot
    fit(model, train_loader, config, test_loader=test_loader, callbacks=[LivePlot()])

One figure is kept for the whole run and only its panels are redrawn, with a fixed layout: a redraw costs
a tenth of building and tightly laying out a new figure, which matters when an epoch takes seconds.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from divekit.report.plots import _in_notebook


class LivePlot:
    """Callback drawing loss/accuracy curves (train vs valid/test) and the learning rate after each epoch.

    Args:
        path: PNG to rewrite; default ``RUN/live.png`` when ``RunWriter`` put the run directory in
            ``state.run_dir`` (set by the run pipeline), else no file.
        notebook: also display and update the figure in a notebook (default: when running in Jupyter).
    """

    def __init__(self, path: str | Path | None = None, notebook: bool | None = None,
                 min_interval: float = 1.0) -> None:
        self.path = Path(path) if path else None
        self.notebook = _in_notebook() if notebook is None else notebook
        self.handle: Any = None
        self.fig: Any = None
        # a redraw costs ~0.1-0.2 s: with epochs shorter than that (100 tabular epochs in seconds) drawing each
        # one would multiply the run's time, so redraws come at most every min_interval s (and at the end)
        self.min_interval, self.drawn_at, self.drawn_epochs = min_interval, -math.inf, 0

    def on_train_start(self, state) -> None:
        if self.path is None and getattr(state, "run_dir", None):
            self.path = Path(state.run_dir) / "live.png"

    def on_epoch_end(self, state) -> None:
        if not state.history or (self.path is None and not self.notebook):
            return
        last = len(state.history) >= state.config.epochs
        if last or time.monotonic() - self.drawn_at >= self.min_interval:
            self.drawn_at, self.drawn_epochs = time.monotonic(), len(state.history)
            self._draw(state, last)

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
