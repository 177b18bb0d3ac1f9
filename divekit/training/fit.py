"""The training loop: one function a reader can follow from top to bottom.

    for each epoch:
        for each batch:  lr = schedule(step) → forward (autocast) → loss → backward → clip → step
        evaluate valid/test under inference_mode with model.eval() → one metrics row → callbacks

Metrics are accumulated as tensors and read once per epoch, so the step never waits on ``.item()``.
Callbacks are plain objects with any of ``on_train_start(state)``, ``on_step_end(state)``,
``on_epoch_end(state)``, ``on_train_end(state)``; setting ``state.stop = True`` ends training.

Everything the loop needs to continue lives in ``State`` (step, epoch, batches done in the epoch, the
epoch's running sums), so ``divekit.training.checkpoint`` can save it and a resumed run replays the same
batches: it skips the ``state.batch`` batches of the epoch's (seeded) order that were already trained on.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from divekit import speed
from divekit.errors import ConfigError, DataError
from divekit.training import distributed
from divekit.training.config import TrainConfig, ensure_config
from divekit.training.device import autocast, resolve_device, run_precision
from divekit.training.evaluate import evaluate
from divekit.training.guard import NonFiniteGuard, TrainingDiverged
from divekit.training.optimizers import build_optimizer
from divekit.training.schedule import lr_at
from divekit.training.state import EpochSums, Loaders, State


def new_state(model: torch.nn.Module, config: TrainConfig, steps_per_epoch: int, device: torch.device,
              optimizer: torch.optim.Optimizer | None = None) -> State:
    """A fresh ``State`` at step 0, with the optimizer ``config`` names unless one is given."""
    optimizer = optimizer or build_optimizer(
        config.opt, model, config.lr, config.momentum, config.nesterov, config.weight_decay,
        tuple(config.betas), config.eps, fast=config.fast_paths)
    return State(model, optimizer, config, device, steps_per_epoch * config.epochs, steps_per_epoch)


def default_loss(config: TrainConfig) -> Callable:
    if config.task == "regression":
        return lambda out, y: F.mse_loss(out.squeeze(-1), y.to(out.dtype))
    return lambda out, y: F.cross_entropy(out, y, label_smoothing=config.label_smoothing)


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """The warm-up in optimizer steps; ``ConfigError`` when it would take the whole run (the rate would
    never reach ``--lr``)."""
    warmup = round(config.warmup * total_steps) if config.warmup < 1 else int(config.warmup)
    if config.schedule != "onecycle" and config.warmup < 1:
        warmup = 0  # a fractional warm-up belongs to one-cycle; other schedules take absolute steps
    if warmup and warmup >= total_steps:
        raise ConfigError(f"--warmup {config.warmup:g} is {warmup} steps, as long as the whole run ({total_steps} "
                          f"steps): the learning rate would never reach --lr; give fewer warm-up steps or a share "
                          f"below 1")
    return warmup


def check_trainable(model: Any, steps_per_epoch: int) -> None:
    """Refuse what cannot train: not a module, or a training set that yields no batch at all."""
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"fit: expected a torch.nn.Module to train, got {type(model).__name__}")
    if steps_per_epoch < 1:
        raise DataError("no training step: the training loader yields no batch (too few examples for one batch: "
                        "a last batch of a single example is dropped, as batch norm cannot train on it)")


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
        state: a state to continue from (resume, see ``divekit.training.checkpoint.restore``): training goes on
            at ``state.epoch``, after the ``state.batch`` batches of that epoch already done.
        on_nan: a non-finite loss or gradient stops training (``"stop"``, raising ``TrainingDiverged`` that
            names the step) or that step is skipped (``"skip"``, listed in ``state.skipped``).

    Returns:
        The final ``State``; ``state.history`` holds one metrics dict per epoch.
    """
    config = ensure_config(config, "fit config")
    steps_per_epoch = len(train_loader)
    check_trainable(model, steps_per_epoch)
    device = resolve_device(config.device) if state is None else state.device
    dtype = run_precision(config, device)
    if device.type == "cpu" and config.fast_paths:
        speed.keep_freed_memory()  # the step's buffers stay mapped from one step to the next (no page faults)
    loss_fn = loss_fn or default_loss(config)
    state = state or new_state(model, config, steps_per_epoch, device, optimizer)
    opt = state.optimizer
    warmup = warmup_steps(config, state.total_steps)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    step_hooks = [cb for cb in callbacks if hasattr(cb, "on_step_end")]
    state.guard = NonFiniteGuard(device, on_nan, check_grads=scaler is None)
    task = config.task
    ddp = distributed.active()  # a process group is up: train through DDP, add the metrics over the ranks
    net = distributed.wrap(model, device) if ddp else model
    state.loaders = Loaders(train_loader, valid_loader, test_loader)
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
                group["lr"] = state.lr * group.get("lr_mult", 1.0)  # fine-tuning: lower rates for earlier layers
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
                lost: list[torch.Tensor] | None = [] if kept is not None else None
                metrics = evaluate(model, loader, device, dtype, config.tta_flip and task == "classification",
                                   task, loss_fn if task == "regression" else None, over_ranks=ddp, predictions=kept,
                                   tta_shift=config.tta_shift, losses=lost)
                if kept:  # the final test predictions, for the report (no second pass over the test set)
                    state.test_predictions = torch.cat(kept).cpu()
                    state.test_losses = torch.cat(lost).float().cpu()
                row.update({f"{split}_{k}": v for k, v in metrics.items()})
        row["lr"] = state.lr
        state.history.append(row)
        state.epoch, state.batch, state.sums = state.epoch + 1, 0, None
        state.seconds = time.perf_counter() - t_start
        _call(callbacks, "on_epoch_end", state)
    _call(callbacks, "on_train_end", state)
    if state.skipped and len(state.skipped) >= state.step:
        raise TrainingDiverged(f"every one of the {state.step} training steps had a non-finite loss or gradient and "
                               f"was skipped (--on-nan skip): the model never learned; check the data and the "
                               f"starting weights, or try a smaller --lr")
    return state
