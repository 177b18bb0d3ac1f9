"""Live training curves: ``RUN/live.png`` rewritten after every epoch, and a figure redrawn in a notebook.

The book's ``Animator`` as a ``fit`` callback. In a terminal, open ``RUN/live.png`` in any image viewer
that reloads on change; the file is replaced atomically, so a viewer never reads half a PNG. In Jupyter
the same figure is shown below the cell and updated in place each epoch::

    from divekit.report.live import LivePlot
    fit(model, train_loader, config, test_loader=test_loader, callbacks=[LivePlot()])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from divekit.report.plots import _in_notebook


class LivePlot:
    """Callback drawing loss/accuracy curves (train vs valid/test) and the learning rate after each epoch.

    Args:
        path: PNG to rewrite; default ``RUN/live.png`` when ``train_run`` put the run directory in
            ``state.extra["run_dir"]``, else no file.
        notebook: also display and update the figure in a notebook (default: when running in Jupyter).
    """

    def __init__(self, path: str | Path | None = None, notebook: bool | None = None) -> None:
        self.path = Path(path) if path else None
        self.notebook = _in_notebook() if notebook is None else notebook
        self.handle: Any = None

    def on_train_start(self, state) -> None:
        if self.path is None and state.extra.get("run_dir"):
            self.path = Path(state.extra["run_dir"]) / "live.png"

    def on_epoch_end(self, state) -> None:
        if not state.history or (self.path is None and not self.notebook):
            return
        fig = self.figure(state.history, state.config.epochs)
        if self.notebook:
            self._show(fig)
        if self.path is not None:
            from divekit.report.plots import save_figure

            save_figure(fig, self.path, dpi=80)
        else:
            from divekit.report.plots import pyplot

            pyplot().close(fig)

    @staticmethod
    def figure(history: list[dict[str, Any]], epochs: int):
        """Loss, accuracy (when measured) and learning-rate panels over a fixed ``1..epochs`` axis."""
        from divekit.report.figures import SPLITS, integer_epochs, metrics_in
        from divekit.report.plots import pyplot

        plt = pyplot()
        panels = metrics_in({"": history})[:2] + (["lr"] if any("lr" in r for r in history) else [])
        fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False)
        x = [r["epoch"] for r in history]
        for ax, metric in zip(axes[0], panels, strict=True):
            if metric == "lr":
                ax.plot(x, [r.get("lr") for r in history], "-o", markersize=3)
            for split, _, marker in SPLITS if metric != "lr" else ():
                key = f"{split}_{metric}"
                if any(key in r for r in history):
                    ax.plot(x, [r.get(key, float("nan")) for r in history], "-" + marker, markersize=3, label=split)
                    ax.legend(fontsize=8)
            ax.set_xlim(0.5, max(epochs, len(x)) + 0.5)
            integer_epochs(ax)
            ax.set_title({"acc": "accuracy"}.get(metric, metric))
            ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    def _show(self, fig) -> None:
        from IPython.display import display  # only reached inside a notebook

        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
