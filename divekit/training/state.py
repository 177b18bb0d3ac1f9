"""The training state that ``fit`` advances and callbacks read, and the running sums of an epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from divekit.training.config import TrainConfig

if TYPE_CHECKING:
    from divekit.training.guard import NonFiniteGuard


class EpochSums:
    """Running sums of the current epoch: ``loss`` (float64, Σ batch-mean loss × batch size), ``correct``
    (int64) and ``seen`` examples, as device tensors.

    A step only files its loss and outputs; they are added up many batches at a time and whenever ``loss``
    or ``correct`` is read, which spares the step six small ops and gives the same sums bit for bit: the
    losses are added one by one in float64 in step order (as Python floats), and counts of right answers do
    not depend on the order. On a GPU adding the losses waits for the device, once per
    ``PENDING`` steps."""

    PENDING = 1024  # losses held before adding them
    HELD = 1 << 16  # output elements held before counting right answers (256 KB of float32)

    def __init__(self, loss: torch.Tensor, correct: torch.Tensor, seen: int = 0) -> None:
        self._loss, self._correct, self.seen = loss, correct, seen
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []
        self._outs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._held = 0

    @classmethod
    def zeros(cls, device: torch.device) -> EpochSums:
        return cls(torch.zeros((), dtype=torch.float64, device=device),
                   torch.zeros((), dtype=torch.int64, device=device))

    @property
    def loss(self) -> torch.Tensor:
        self._add_losses()
        return self._loss

    @property
    def correct(self) -> torch.Tensor:
        self._count()
        return self._correct

    def add(self, loss: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None = None) -> None:
        """File one batch: its mean ``loss``, labels ``y [B, …]`` and, for accuracy, outputs ``out [B, C, …]``."""
        self._losses.append(loss.detach())
        self._sizes.append(len(y))
        self.seen += len(y)
        if len(self._losses) >= self.PENDING:
            self._add_losses()
        if out is not None:
            # One argmax over many steps' outputs costs a fraction of one per step (a small model's step is
            # ~1 ms). A CUDA-graph-compiled model overwrites its output buffer next step: keep a copy there.
            self._outs.append((out.detach().clone() if out.is_cuda else out.detach(), y))
            self._held += out.numel()
            if self._held >= self.HELD:
                self._count()

    def _add_losses(self) -> None:
        if not self._losses:
            return
        total = self._loss.item()
        for value, n in zip(torch.stack(self._losses).reshape(-1).tolist(), self._sizes, strict=True):
            total += value * n  # float64: the product is exact, the sum rounds as a float64 tensor's would
        self._loss.fill_(total)
        self._losses, self._sizes = [], []

    def _count(self) -> None:
        if not self._outs:
            return
        outs, ys = zip(*self._outs, strict=True)
        if len({o.shape[1:] for o in outs}) == 1 and len({t.shape[1:] for t in ys}) == 1:  # one argmax for all
            self._correct += (torch.cat(outs).argmax(1) == torch.cat(ys)).sum()
        else:  # e.g. sequences of different lengths
            self._correct += sum((o.argmax(1) == t).sum() for o, t in self._outs)
        self._outs, self._held = [], 0


@dataclass
class Loaders:
    """The loaders of a run: ``train`` batches, and the ``valid``/``test`` sets evaluated at epoch ends."""

    train: Any
    valid: Any = None
    test: Any = None


@dataclass
class State:
    """What callbacks see: the live objects, the history so far, and what the run has produced.

    The run's own fields (``run_dir``, ``loaders``, ``test_predictions``, ``curves_png``, ``early_stopping``,
    ``resumed_at``) are typed attributes, each set by one named owner, so no callback depends on another
    having run first.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    device: torch.device
    total_steps: int
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    lr: float = 0.0
    loss: torch.Tensor | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    seconds: float = 0.0
    batch: int = 0  # batches of the current epoch already trained on
    sums: EpochSums | None = None  # the current epoch's running sums (None between epochs)
    skipped: list[int] = field(default_factory=list)  # steps skipped for a non-finite loss (--on-nan skip)
    guard: NonFiniteGuard | None = None
    # set by the run pipeline (divekit.training.run) before training: where callbacks may write files
    run_dir: Path | None = None
    # set by fit: the loaders it trains and evaluates on
    loaders: Loaders | None = None
    # set by fit after the last epoch: the predicted class of every test example, in the test set's order
    test_predictions: torch.Tensor | None = None
    # set with it: each test example's loss, -log p(true class), for the report's most confidently wrong first
    test_losses: torch.Tensor | None = None
    # set by the live plot when it drew the last epoch: (epochs drawn, PNG), which becomes curves.png
    curves_png: tuple[int, bytes] | None = None
    # set by EarlyStopping at the end of training: monitor, best epoch and value, stopped epoch, restored
    early_stopping: dict[str, Any] | None = None
    # set by checkpoint.restore: the steps at which this run was resumed
    resumed_at: list[int] = field(default_factory=list)
