"""The training loop: one function a reader can follow from top to bottom.

    for each epoch:
        for each batch:  lr = schedule(step) → forward (autocast) → loss → backward → clip → step
        evaluate valid/test under inference_mode with model.eval() → one metrics row → callbacks

Metrics are accumulated as tensors and read once per epoch, so the step never waits on ``.item()``.
Callbacks are plain objects with any of ``on_train_start(state)``, ``on_step_end(state)``,
``on_epoch_end(state)``, ``on_train_end(state)``; setting ``state.stop = True`` ends training.

Everything the loop needs to continue lives in ``State`` (step, epoch, batches done in the epoch, the
epoch's running sums), so ``divekit.train.checkpoint`` can save it and a resumed run replays the same
batches: it skips the ``state.batch`` batches of the epoch's (seeded) order that were already trained on.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from divekit.train import distributed
from divekit.train.config import TrainConfig
from divekit.train.device import autocast, keep_freed_memory, resolve_device, resolve_precision
from divekit.train.guard import NonFiniteGuard, TrainingDiverged  # noqa: F401 (TrainingDiverged: re-exported)
from divekit.train.optimizers import build_optimizer
from divekit.train.schedule import lr_at


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
class State:
    """What callbacks see: the live objects and the history so far."""

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
    extra: dict[str, Any] = field(default_factory=dict)
    batch: int = 0  # batches of the current epoch already trained on
    sums: EpochSums | None = None  # the current epoch's running sums (None between epochs)
    skipped: list[int] = field(default_factory=list)  # steps skipped for a non-finite loss (--on-nan skip)
    guard: NonFiniteGuard | None = None


def new_state(model: torch.nn.Module, config: TrainConfig, steps_per_epoch: int, device: torch.device,
              optimizer: torch.optim.Optimizer | None = None) -> State:
    """A fresh ``State`` at step 0, with the optimizer ``config`` names unless one is given."""
    optimizer = optimizer or build_optimizer(
        config.opt, model, config.lr, config.momentum, config.nesterov, config.weight_decay,
        tuple(config.betas), config.eps)
    return State(model, optimizer, config, device, steps_per_epoch * config.epochs, steps_per_epoch)


def default_loss(config: TrainConfig) -> Callable:
    if config.task == "regression":
        return lambda out, y: F.mse_loss(out.squeeze(-1), y.to(out.dtype))
    return lambda out, y: F.cross_entropy(out, y, label_smoothing=config.label_smoothing)


def shifted(x: torch.Tensor, dy: int, dx: int, fill: float = 0.0) -> torch.Tensor:
    """``x [B, C, H, W]`` moved ``dy`` pixels down and ``dx`` right (negative: up/left), the uncovered edge set
    to ``fill``; same shape and memory format."""
    s = max(abs(dy), abs(dx))
    h, w = x.shape[-2:]
    out = F.pad(x, (s, s, s, s), value=fill)[:, :, s - dy:s - dy + h, s - dx:s - dx + w]
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return out.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def tta_probabilities(model: torch.nn.Module, x: torch.Tensor, flip: bool = False, shift: int = 0,
                      fill: float = 0.0) -> torch.Tensor:
    """Test-time augmentation: the weighted mean softmax of ``model`` over views of ``x [B, C, H, W]``.

    The views are the image and, with ``flip``, its mirror; with ``shift``, each of those also moved by
    ``shift`` pixels up, down, left and right (edge filled with ``fill``), each moved view weighing a quarter
    of its unmoved one, so that the moved views together count as much as the unmoved ones.
    """
    bases = [x, x.flip(3)] if flip else [x]
    total = sum(model(v).float().softmax(1) for v in bases)
    if not shift:
        return total / len(bases)
    moves = ((shift, 0), (-shift, 0), (0, shift), (0, -shift))
    moved = sum(model(shifted(v, dy, dx, fill)).float().softmax(1) for v in bases for dy, dx in moves)
    return (total + moved / 4) / (2 * len(bases))


@torch.inference_mode()
def evaluate(model: torch.nn.Module, loader: Iterable, device: torch.device | None = None,
             dtype: torch.dtype | None = None, tta_flip: bool = False, task: str = "classification",
             loss_fn: Callable | None = None, over_ranks: bool = False,
             predictions: list[torch.Tensor] | None = None, tta_shift: int = 0) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of ``model`` over ``loader``, in eval mode.

    ``tta_flip`` averages the softmax of each image and its mirror image (test-time augmentation);
    ``tta_shift`` adds those views moved by that many pixels (``tta_probabilities``), the uncovered edge
    filled with the loader's ``pad_value`` (a black pixel, normalised) if it has one.
    ``predictions``: a list that receives the predicted class of each batch's examples, in loader order.
    ``over_ranks``: each process of a data-parallel run evaluated its own shard; the sums are added over
    all processes (every rank must call it), so all ranks return the metrics of the whole set.
    The model's train/eval mode is restored afterwards.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    n = 0
    tta = (tta_flip or tta_shift > 0) and task == "classification"
    fill = getattr(loader, "pad_value", 0.0)
    for x, y in loader:
        with autocast(device, dtype):
            out = torch.log(tta_probabilities(model, x, tta_flip, tta_shift, fill)) if tta else model(x)
        out = out.float()
        if task == "regression":
            loss = loss_fn(out, y) if loss_fn else F.mse_loss(out.squeeze(-1), y.float())
        else:
            loss = F.nll_loss(out, y) if tta else (loss_fn(out, y) if loss_fn else F.cross_entropy(out, y))
            predicted = out.argmax(1)
            correct += (predicted == y).sum()
            if predictions is not None:
                predictions.append(predicted)
        loss_sum += loss.double() * len(y)
        n += len(y)
    model.train(was_training)
    loss_total, correct_total, n = distributed.sum_over_ranks(loss_sum, correct, n) if over_ranks else (
        loss_sum.item(), correct.item(), n)
    result = {"loss": loss_total / max(n, 1)}
    if task == "classification":
        result["acc"] = correct_total / max(n, 1)
    return result


def _call(callbacks: Sequence[Any], hook: str, state: State) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(state)


def fit(model: torch.nn.Module, train_loader: Any, config: TrainConfig | None = None,
        valid_loader: Any = None, test_loader: Any = None, callbacks: Sequence[Any] = (),
        loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
        state: State | None = None, on_nan: str = "stop") -> State:
    """Train ``model`` on ``train_loader`` as ``config`` says; evaluate after every epoch.

    Args:
        model: any ``nn.Module`` mapping a batch ``x`` to outputs (logits for classification).
        train_loader: an iterable of ``(x, y)`` batches with ``len()``; ``set_epoch(e)`` is called if present.
        config: hyper-parameters (defaults: ``TrainConfig()``).
        valid_loader, test_loader: optional iterables evaluated at each epoch end.
        callbacks: objects with optional ``on_*`` hooks (see module docstring).
        loss_fn: ``loss_fn(outputs, y) -> scalar``; default cross-entropy (with label smoothing) or MSE.
        optimizer: a ready optimizer (default: built from ``config``).
        state: a state to continue from (resume, see ``divekit.train.checkpoint.restore``): training goes on
            at ``state.epoch``, after the ``state.batch`` batches of that epoch already done.
        on_nan: a non-finite loss or gradient stops training (``"stop"``, raising ``TrainingDiverged`` that
            names the step) or that step is skipped (``"skip"``, listed in ``state.skipped``).

    Returns:
        The final ``State``; ``state.history`` holds one metrics dict per epoch.
    """
    config = (config or TrainConfig()).validate()
    device = resolve_device(config.device) if state is None else state.device
    dtype = resolve_precision(config.precision, device)
    if device.type == "cpu":
        keep_freed_memory()  # the step's buffers stay mapped from one step to the next (no page faults)
    loss_fn = loss_fn or default_loss(config)
    steps_per_epoch = len(train_loader)
    state = state or new_state(model, config, steps_per_epoch, device, optimizer)
    opt = state.optimizer
    warmup = round(config.warmup * state.total_steps) if config.warmup < 1 else int(config.warmup)
    if config.schedule not in ("onecycle",) and config.warmup < 1:
        warmup = 0  # fractional warm-up belongs to one-cycle; other schedules take absolute steps
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    step_hooks = [cb for cb in callbacks if hasattr(cb, "on_step_end")]
    state.guard = NonFiniteGuard(device, on_nan, check_grads=scaler is None)
    task = config.task
    ddp = distributed.active()  # a process group is up: train through DDP, add the metrics over the ranks
    net = distributed.wrap(model, device) if ddp else model
    state.extra["loaders"] = {"train": train_loader, "valid": valid_loader, "test": test_loader}
    _call(callbacks, "on_train_start", state)
    t_start = time.perf_counter() - state.seconds
    while state.epoch < config.epochs and not state.stop:
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(state.epoch)
        model.train()
        sums = state.sums = state.sums or EpochSums.zeros(device)  # a resumed epoch goes on with its sums
        for x, y in itertools.islice(train_loader, state.batch, None):  # skip the batches already done
            state.lr = lr_at(state.step, state.total_steps, config.lr, config.schedule, warmup,
                             config.step_size, config.gamma)
            for group in opt.param_groups:
                group["lr"] = state.lr
            opt.zero_grad(set_to_none=True)  # first: the old gradients' memory is free for this forward pass
            with autocast(device, dtype):
                out = net(x)
                loss = loss_fn(out, y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad) if config.clip_grad else None
            if state.guard.step_ok(loss, model, state, norm):
                if scaler is not None:
                    scaler.step(opt)
                else:
                    opt.step()
                sums.add(loss, y, out if task == "classification" else None)
            else:
                state.skipped.append(state.step)
            if scaler is not None:
                scaler.update()
            state.step += 1
            state.batch += 1
            if step_hooks:
                state.loss = loss
                _call(step_hooks, "on_step_end", state)
        state.guard.check()
        loss_sum, correct, seen = distributed.sum_over_ranks(sums.loss, sums.correct, sums.seen) if ddp else (
            sums.loss.item(), sums.correct.item(), sums.seen)
        row: dict[str, Any] = {"epoch": state.epoch + 1, "step": state.step, "train_loss": loss_sum / max(seen, 1)}
        if task == "classification":
            row["train_acc"] = correct / max(seen, 1)
        last = state.epoch + 1 == config.epochs
        test_now = last or (config.test_every > 0 and (state.epoch + 1) % config.test_every == 0)
        for split, loader in (("valid", valid_loader), ("test", test_loader if test_now else None)):
            if loader is not None:
                kept: list[torch.Tensor] | None = [] if split == "test" and last else None
                metrics = evaluate(model, loader, device, dtype, config.tta_flip and task == "classification",
                                   task, loss_fn if task == "regression" else None, over_ranks=ddp, predictions=kept,
                                   tta_shift=config.tta_shift)
                if kept:  # the final test predictions, for the report (no second pass over the test set)
                    state.extra["test_predictions"] = torch.cat(kept).cpu()
                row.update({f"{split}_{k}": v for k, v in metrics.items()})
        row["lr"] = state.lr
        state.history.append(row)
        state.epoch, state.batch, state.sums = state.epoch + 1, 0, None
        state.seconds = time.perf_counter() - t_start
        _call(callbacks, "on_epoch_end", state)
    _call(callbacks, "on_train_end", state)
    return state
