"""The learning-rate range test: train on the training split while the rate grows exponentially, and read a
good rate off the loss.

    rate_i = start · (end / start)^(i / (steps - 1))        e.g. 1e-7 → 10 over 100 steps
    the sweep stops once the loss's moving average exceeds ``diverge`` × its minimum (or a loss is not finite)
    the loss smoothed by a centred running median and mean (no lag, no spikes) against log10(rate)
    the final descent: walking back from the loss's minimum, the rates over which it made the middle half of its
    fall from the starting level; that is the usable range, and its steepest point the suggestion

The descent is read from the whole fall to the minimum, so a spike among the first, noisiest steps cannot become
the answer (as the sweep's single steepest point can), and slopes are taken against log10(rate), the axis the
rates are evenly spaced on. The sweep trains a model and optimizer of its own, on the training rows only (never
the validation or test rows), and restores every random generator and the thread count it found: a run started
after it is bit for bit the run started without it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.training.device import autocast, resolve_device, run_precision, set_threads
from divekit.training.fit import default_loss
from divekit.training.optimizers import build_optimizer
from divekit.training.run import seed_everything, split
from divekit.training.tasks import kind_of, load_examples, task_for

SKIP_START = 0.1  # the first tenth of the sweep: its median is the starting level; too noisy for a steepest slope


@dataclass
class LRFindResult:
    """A finished sweep: every step's rate and loss, the smoothed loss, and what was read from it."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float  # the steepest point of the usable range
    low: float  # the usable range: where the loss made the middle half of its fall to the minimum
    high: float
    steepest: float  # the rate where the smoothed loss falls fastest per decade of rate, over the whole sweep
    min_loss_lr: float  # the rate at the smoothed loss's minimum (training there is already too fast)
    diverged_at: float | None  # the rate at which the sweep stopped because the loss blew up, if it did

    def lines(self) -> list[str]:
        end = (f"the loss diverged at lr {self.diverged_at:.2g}" if self.diverged_at is not None
               else f"the loss did not diverge up to lr {self.lrs[-1]:.2g}")
        return [f"suggested lr: {self.suggestion:.3g} (where the loss falls fastest on its way to the minimum)",
                f"usable range: {self.low:.3g} … {self.high:.3g}",
                f"steepest descent at lr {self.steepest:.3g}; lowest loss at lr {self.min_loss_lr:.3g}; "
                f"{len(self.lrs)} steps, {end}"]


def exp_rates(start: float, end: float, steps: int) -> list[float]:
    """``steps`` rates from ``start`` to ``end``, evenly spaced on a log scale."""
    if not 0 < start < end:
        raise ConfigError(f"lr-find: the start rate must be below the end rate and positive, got {start:g} → {end:g}")
    return [start * (end / start) ** (i / (steps - 1)) for i in range(steps)]


def smooth(losses: list[float], width: float = 0.04) -> list[float]:
    """A centred running median, then a centred running mean, each over ``width`` of the sweep (at least 5
    steps): the median removes single-step spikes and the mean the noise, and being centred neither moves the
    curve to higher rates, as a one-way moving average does (it trails the loss by its window)."""
    values = np.asarray(losses, dtype=np.float64)
    half = max(int(width * len(values) / 2), 2)
    windows = [slice(max(i - half, 0), i + half + 1) for i in range(len(values))]
    medians = np.array([np.median(values[w]) for w in windows])
    return [float(np.mean(medians[w])) for w in windows]


def descent(smoothed: list[float], low: float = 0.25, high: float = 0.75) -> tuple[int, int, int]:
    """``(start, end, minimum)`` indices of the final descent of ``smoothed``: walking back from its minimum, the
    points where the loss had made ``low`` and ``high`` of its fall from the starting level (the median of the
    first tenth, so that a spike there cannot set it) to the minimum."""
    minimum = int(np.argmin(smoothed))
    start = max(int(SKIP_START * len(smoothed)), 1)
    level = float(np.median(smoothed[:start]))
    drop = level - smoothed[minimum]
    if minimum < start or not drop > 0:
        raise ConfigError("lr-find: the loss never fell below its starting level, so no rate can be read off it; "
                          "sweep to higher rates (--end-lr) or over more steps (--steps)")

    def reached(fraction: float) -> int:
        i = minimum
        while i > 0 and smoothed[i - 1] < level - fraction * drop:
            i -= 1
        return i

    return reached(low), reached(high), minimum


def log_slopes(lrs: list[float], values: list[float]) -> np.ndarray:
    """d value / d log10(rate): the gradient against the axis the rates are evenly spaced on."""
    return np.gradient(np.asarray(values, dtype=np.float64), np.log10(np.asarray(lrs, dtype=np.float64)))


def analyse(lrs: list[float], losses: list[float], diverged_at: float | None = None) -> LRFindResult:
    """Read the suggestion, usable range and landmarks off a sweep's rates and losses."""
    if len(lrs) < 5:
        raise ConfigError(f"lr-find: the loss diverged after {len(lrs)} steps, too few to read a rate from; "
                          f"start the sweep lower (--start-lr)")
    smoothed = smooth(losses)
    start, end, minimum = descent(smoothed)
    slopes = log_slopes(lrs, smoothed)
    suggestion = start + int(np.argmin(slopes[start:end + 1]))
    skip = max(int(SKIP_START * len(lrs)), 1)
    steepest = skip + int(np.argmin(slopes[skip:]))
    return LRFindResult(lrs, losses, smoothed, lrs[suggestion], lrs[start], lrs[end], lrs[steepest], lrs[minimum],
                        diverged_at)


@contextmanager
def preserved_state() -> Iterator[None]:
    """Restore Python's, numpy's and torch's random generators and torch's thread count on the way out."""
    py, np_state, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        torch.set_num_threads(threads)


def sweep(config: TrainConfig, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 100,
          diverge: float = 4.0, beta: float = 0.9) -> tuple[list[float], list[float], float | None]:
    """Train a fresh model of ``config`` on its training rows at exponentially growing rates (its optimizer,
    momentum, weight decay, precision and clipping; not its schedule). Returns the rates and losses of the steps
    taken, and the rate at which the smoothed loss exceeded ``diverge`` × its minimum (None if it never did)."""
    task = task_for(kind_of(config.data, config.data_options))
    config = task.check(config)
    set_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    examples = load_examples(task, config)
    train_idx, _ = split(config, examples)  # with --valid-fraction the validation rows stay out of the sweep
    prepared = task.prepare(config, examples, train_idx, None, device)
    model, loader = prepared.model, prepared.loaders.train
    opt = build_optimizer(config.opt, model, start_lr, config.momentum, config.nesterov, config.weight_decay,
                          tuple(config.betas), config.eps, fast=config.fast_paths)
    loss_fn = prepared.loss_fn or default_loss(config)
    dtype = run_precision(config, device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    rates, lrs, losses = exp_rates(start_lr, end_lr, steps), [], []
    best, avg = math.inf, 0.0
    model.train()
    for lr, (x, y) in zip(rates, _batches(loader), strict=False):
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = loss_fn(model(x), y)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(opt)
        if config.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        value = loss.item()
        if not math.isfinite(value):
            return lrs, losses, lr
        lrs.append(lr)
        losses.append(value)
        avg = beta * avg + (1 - beta) * value
        smoothed = avg / (1 - beta ** len(losses))
        best = min(best, smoothed)
        if len(losses) > 1 and smoothed > diverge * best:
            return lrs, losses, lr
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
    return lrs, losses, None


def _batches(loader) -> Iterator:
    """The training batches epoch after epoch (a sweep may be longer than one epoch)."""
    for epoch in itertools.count():
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from loader


def lr_find(config: TrainConfig, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 100,
            diverge: float = 4.0) -> LRFindResult:
    """The range test of ``config`` (see the module docstring), leaving no trace in this process."""
    with preserved_state():
        lrs, losses, diverged_at = sweep(config, start_lr, end_lr, steps, diverge)
    return analyse(lrs, losses, diverged_at)


def plot_lr_find(result: LRFindResult, path: str | Path, title: str = "") -> Path:
    """The losses against the rate (log scale): raw and smoothed, the usable range shaded, the suggestion marked."""
    from divekit.report.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(result.lrs, result.losses, color="#9db4d3", lw=0.8, label="loss")
    ax.plot(result.lrs, result.smoothed, color="#1f4e8c", lw=1.8, label="smoothed loss")
    ax.axvspan(result.low, result.high, color="#4caf50", alpha=0.15, label="usable range")
    ax.axvline(result.suggestion, color="#2e7d32", ls="--", label=f"suggestion {result.suggestion:.2g}")
    ax.plot([result.steepest], [np.interp(math.log(result.steepest), np.log(result.lrs), result.smoothed)], "o",
            color="#c62828", label=f"steepest {result.steepest:.2g}")
    finite = [v for v in result.smoothed if math.isfinite(v)]
    top = max(result.smoothed[0], min(finite)) * 1.5  # the divergence above this would squash the curve
    ax.set_ylim(min(finite) - 0.05 * abs(top - min(finite)), top)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title or "learning-rate range test")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    return save_figure(fig, path)
