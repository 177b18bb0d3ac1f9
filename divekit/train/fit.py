"""The training loop: one function a reader can follow from top to bottom.

    for each epoch:
        for each batch:  lr = schedule(step) → forward (autocast) → loss → backward → clip → step
        evaluate valid/test under inference_mode with model.eval() → one metrics row → callbacks

Metrics are accumulated as tensors and read once per epoch, so the step never waits on ``.item()``.
Callbacks are plain objects with any of ``on_train_start(state)``, ``on_step_end(state)``,
``on_epoch_end(state)``, ``on_train_end(state)``; setting ``state.stop = True`` ends training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from divekit.errors import DivekitError
from divekit.train.config import TrainConfig
from divekit.train.device import autocast, resolve_device, resolve_precision
from divekit.train.optimizers import build_optimizer
from divekit.train.schedule import lr_at


class TrainingDiverged(DivekitError):
    """The loss became NaN or infinite."""


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


def default_loss(config: TrainConfig) -> Callable:
    if config.task == "regression":
        return lambda out, y: F.mse_loss(out.squeeze(-1), y.to(out.dtype))
    return lambda out, y: F.cross_entropy(out, y, label_smoothing=config.label_smoothing)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, loader: Iterable, device: torch.device | None = None,
             dtype: torch.dtype | None = None, tta_flip: bool = False, task: str = "classification",
             loss_fn: Callable | None = None) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of ``model`` over ``loader``, in eval mode.

    ``tta_flip`` averages the softmax of each image and its mirror image (test-time augmentation).
    The model's train/eval mode is restored afterwards.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    n = 0
    for x, y in loader:
        with autocast(device, dtype):
            out = model(x)
            if tta_flip:
                out = torch.log((out.float().softmax(1) + model(x.flip(3)).float().softmax(1)) / 2)
        out = out.float()
        if task == "regression":
            loss = loss_fn(out, y) if loss_fn else F.mse_loss(out.squeeze(-1), y.float())
        else:
            loss = F.nll_loss(out, y) if tta_flip else (loss_fn(out, y) if loss_fn else F.cross_entropy(out, y))
            correct += (out.argmax(1) == y).sum()
        loss_sum += loss.double() * len(y)
        n += len(y)
    model.train(was_training)
    result = {"loss": (loss_sum / max(n, 1)).item()}
    if task == "classification":
        result["acc"] = correct.item() / max(n, 1)
    return result


def _call(callbacks: Sequence[Any], hook: str, state: State) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(state)


def fit(model: torch.nn.Module, train_loader: Any, config: TrainConfig | None = None,
        valid_loader: Any = None, test_loader: Any = None, callbacks: Sequence[Any] = (),
        loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
        state: State | None = None) -> State:
    """Train ``model`` on ``train_loader`` as ``config`` says; evaluate after every epoch.

    Args:
        model: any ``nn.Module`` mapping a batch ``x`` to outputs (logits for classification).
        train_loader: an iterable of ``(x, y)`` batches with ``len()``; ``set_epoch(e)`` is called if present.
        config: hyper-parameters (defaults: ``TrainConfig()``).
        valid_loader, test_loader: optional iterables evaluated at each epoch end.
        callbacks: objects with optional ``on_*`` hooks (see module docstring).
        loss_fn: ``loss_fn(outputs, y) -> scalar``; default cross-entropy (with label smoothing) or MSE.
        optimizer: a ready optimizer (default: built from ``config``).
        state: a state to continue from (resume); its ``epoch`` is the next epoch to run.

    Returns:
        The final ``State``; ``state.history`` holds one metrics dict per epoch.
    """
    config = (config or TrainConfig()).validate()
    device = resolve_device(config.device) if state is None else state.device
    dtype = resolve_precision(config.precision, device)
    loss_fn = loss_fn or default_loss(config)
    steps_per_epoch = len(train_loader)
    if state is None:
        optimizer = optimizer or build_optimizer(
            config.opt, model, config.lr, config.momentum, config.nesterov, config.weight_decay,
            tuple(config.betas), config.eps)
        state = State(model, optimizer, config, device, steps_per_epoch * config.epochs, steps_per_epoch)
    opt = state.optimizer
    warmup = round(config.warmup * state.total_steps) if config.warmup < 1 else int(config.warmup)
    if config.schedule not in ("onecycle",) and config.warmup < 1:
        warmup = 0  # fractional warm-up belongs to one-cycle; other schedules take absolute steps
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    step_hooks = [cb for cb in callbacks if hasattr(cb, "on_step_end")]
    check_finite_each_step = device.type == "cpu"  # free on the CPU; a sync per step on a GPU
    task = config.task
    state.extra["loaders"] = {"train": train_loader, "valid": valid_loader, "test": test_loader}
    _call(callbacks, "on_train_start", state)
    t_start = time.perf_counter() - state.seconds
    while state.epoch < config.epochs and not state.stop:
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(state.epoch)
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        for x, y in train_loader:
            state.lr = lr_at(state.step, state.total_steps, config.lr, config.schedule, warmup,
                             config.step_size, config.gamma)
            for group in opt.param_groups:
                group["lr"] = state.lr
            with autocast(device, dtype):
                out = model(x)
                loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            if config.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            if check_finite_each_step and not math.isfinite(loss.item()):
                raise TrainingDiverged(f"loss is {loss.item()} at step {state.step} (epoch {state.epoch + 1}); "
                                       f"try a smaller --lr (now {state.lr:g}) or --clip-grad")
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            loss_sum += loss.detach().double() * len(y)
            if task == "classification":
                correct += (out.detach().argmax(1) == y).sum()
            seen += len(y)
            state.step += 1
            if step_hooks:
                state.loss = loss
                _call(step_hooks, "on_step_end", state)
        train_loss = (loss_sum / max(seen, 1)).item()
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"mean training loss of epoch {state.epoch + 1} is {train_loss}; "
                                   f"try a smaller --lr (now {config.lr:g}) or --clip-grad")
        row: dict[str, Any] = {"epoch": state.epoch + 1, "step": state.step, "train_loss": train_loss}
        if task == "classification":
            row["train_acc"] = correct.item() / max(seen, 1)
        for split, loader in (("valid", valid_loader), ("test", test_loader)):
            if loader is not None:
                metrics = evaluate(model, loader, device, dtype, config.tta_flip and task == "classification",
                                   task, loss_fn if task == "regression" else None)
                row.update({f"{split}_{k}": v for k, v in metrics.items()})
        row["lr"] = state.lr
        state.history.append(row)
        state.epoch += 1
        state.seconds = time.perf_counter() - t_start
        _call(callbacks, "on_epoch_end", state)
    _call(callbacks, "on_train_end", state)
    return state
