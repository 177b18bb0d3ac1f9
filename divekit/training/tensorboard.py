"""Optional TensorBoard logging: a ``fit`` callback writing standard event files.

``tensorboard --logdir runs`` then shows, per run, every per-epoch metric (``loss/train``,
``accuracy/test`` …), the learning rate of each step, and histograms of every parameter and its gradient
at each epoch end. The ``tensorboard`` package is an optional extra (``pip install tensorboard``); without
it ``TensorBoardLogger`` raises a one-line ``ConfigError`` saying so, before training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from divekit.errors import ConfigError

INSTALL_HINT = ("--tensorboard needs the 'tensorboard' package: pip install tensorboard "
                "(or pip install 'divekit[tensorboard]')")


def summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter``, or a ``ConfigError`` telling how to install tensorboard."""
    try:
        import tensorboard  # noqa: F401  (torch's SummaryWriter imports it lazily and fails late otherwise)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return SummaryWriter


def tag_of(key: str) -> str:
    """``train_loss`` → ``loss/train`` so TensorBoard draws train, valid and test of a metric together."""
    split, _, metric = key.partition("_")
    if split in ("train", "valid", "test") and metric:
        return f"{'accuracy' if metric == 'acc' else metric}/{split}"
    return key


class TensorBoardLogger:
    """Callback logging scalars, the learning rate and weight/gradient histograms to TensorBoard.

    Args:
        log_dir: where event files go; default ``RUN/tensorboard`` (the run directory that ``RunWriter``
            puts in ``state.run_dir``), else ``fallback_root/tensorboard``.
        histograms: log a histogram of each parameter and its gradient at each epoch end.
        lr_every: log the learning rate every this many steps (1: every step).
    """

    def __init__(self, log_dir: str | Path | None = None, histograms: bool = True, lr_every: int = 1,
                 fallback_root: str | Path = "runs") -> None:
        self.writer_class = summary_writer_class()  # fail now, not after the first epoch
        self.log_dir = Path(log_dir) if log_dir else None
        self.fallback_root = Path(fallback_root)
        self.histograms, self.lr_every = histograms, max(1, int(lr_every))
        self.writer: Any = None
        self.grads: dict[str, Any] = {}

    def on_train_start(self, state) -> None:
        run_dir = state.run_dir
        log_dir = self.log_dir or (Path(run_dir) / "tensorboard" if run_dir else self.fallback_root / "tensorboard")
        self.log_dir = log_dir
        self.writer = self.writer_class(log_dir=str(log_dir), purge_step=state.step or None)

    def on_step_end(self, state) -> None:
        if self.writer is not None and state.step % self.lr_every == 0:
            self.writer.add_scalar("lr", state.lr, state.step)
        if self.histograms and state.batch == state.steps_per_epoch:
            # the last batch's gradients, kept before the next epoch's zero_grad clears them
            self.grads = {n: p.grad.detach().float().cpu() for n, p in state.model.named_parameters()
                          if p.grad is not None}

    def on_epoch_end(self, state) -> None:
        if self.writer is None:
            return
        row = state.history[-1]
        for key, value in row.items():
            if key not in ("epoch", "step", "lr") and isinstance(value, (int, float)):  # lr: logged per step
                self.writer.add_scalar(tag_of(key), value, row["epoch"])
        if self.histograms:
            for name, p in state.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), row["epoch"])
                if name in self.grads:
                    self.writer.add_histogram(f"gradients/{name}", self.grads[name], row["epoch"])
            self.grads = {}
        self.writer.flush()

    def on_train_end(self, state) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
