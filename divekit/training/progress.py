"""Progress display: a live bar on a terminal, one plain line per epoch anywhere else."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def format_row(row: dict[str, Any], epochs: int, seconds: float | None = None) -> str:
    """``epoch 2/10  train_loss 0.4123  train_acc 0.8512  test_acc 0.8730  lr 0.05  12.3s``."""
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for key, value in row.items():
        if key in ("epoch", "step"):
            continue
        parts.append(f"{key} {value:.4g}" if key == "lr" else f"{key} {value:.4f}")
    if seconds is not None:
        parts.append(f"{seconds:.1f}s")
    return "  ".join(parts)


class Progress:
    """Callback printing progress. On a TTY a tqdm bar per epoch; otherwise (CI, pipes, log files)
    exactly one line per epoch and never a carriage return."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.bar = None

    def _new_bar(self, state) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=state.steps_per_epoch, desc=f"epoch {state.epoch + 1}/{state.config.epochs}",
                        file=self.stream, leave=False, dynamic_ncols=True, mininterval=0.25)

    def on_step_end(self, state) -> None:
        if not self.live:
            return
        if self.bar is None:
            self._new_bar(state)
        self.bar.update(1)

    def on_epoch_end(self, state) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(format_row(state.history[-1], state.config.epochs, state.seconds), file=self.stream, flush=True)


class Quiet:
    """Callback that prints nothing (for library use and tests)."""
