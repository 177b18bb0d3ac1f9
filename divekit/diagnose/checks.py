"""Checks for the classic training mistakes: each one a clear error or a warning, never a silent wrong result.

``MistakeChecks`` is a training callback. Before the first step it peeks at the first training batch and
runs the model once on two of its examples (in eval mode, without gradients, so nothing in the model
changes); during the first steps it watches the loss. The check functions are public so that other code
(prediction, evaluation helpers) can call the one it needs.

==========================================  ==============================================================
mistake                                     what happens
==========================================  ==============================================================
model and batch on different devices        ``ConfigError`` naming both devices
integer features into a float model         ``DataError``: convert with ``.float()``
labels outside ``[0, num_outputs)``         ``DataError`` before the cryptic device-side assert
labels that never use some outputs          ``MistakeWarning`` naming the unused outputs
loss NaN/Inf, or ×10 in the first steps     ``TrainingDiverged`` naming the step, suggesting a smaller lr
evaluation in train mode (dropout, BN)      ``MistakeWarning`` from ``warn_if_training``
predictions from a shuffling loader         ``ShuffledLoaderError`` from ``check_ordered_loader``
==========================================  ==============================================================
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import torch
from torch import nn

from divekit.errors import ConfigError, DataError, TrainingDiverged


class MistakeWarning(UserWarning):
    """A likely mistake that does not stop training (the message says what to change)."""


class ShuffledLoaderError(ConfigError, ValueError):
    """Predictions were asked of a loader that shuffles, so rows would not match the stored examples."""


def _warn(message: str) -> None:
    warnings.warn(message, MistakeWarning, stacklevel=3)


def model_device(model: nn.Module) -> torch.device | None:
    """The one device holding all of ``model``'s parameters, or None (no parameters, or several devices)."""
    devices = {p.device for p in model.parameters()}
    return devices.pop() if len(devices) == 1 else None


def _same_device(a: torch.device, b: torch.device) -> bool:
    # "cuda" and "cuda:0" name the same device when the index is left open
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def check_devices(model: nn.Module, *tensors: Any) -> None:
    """Raise ``ConfigError`` in one line when a batch tensor is not on the model's device.

    Args:
        model: the model (its parameters decide the device; skipped when spread over several).
        tensors: batch tensors, e.g. ``x, y``; anything that is not a tensor is ignored.
    """
    device = model_device(model)
    if device is None:
        return
    for name, t in zip(("features", "labels", "third batch item"), tensors, strict=False):
        if isinstance(t, torch.Tensor) and not _same_device(t.device, device):
            raise ConfigError(f"the model is on {device} but the batch {name} are on {t.device}: create the loader "
                              f"with device={str(device)!r} (or move each batch with .to({str(device)!r}))")


def check_feature_dtype(x: Any, model: nn.Module, error: Exception | None = None) -> None:
    """Raise ``DataError`` when integer features reach a model that computes in floating point.

    Meant to be called with the error the model raised on ``x``: it raises only when that error is about
    types, so models that take integers on purpose (token ids into an embedding, one-hot inside
    ``forward``) are never refused. Without ``error`` it raises whenever ``x`` is an integer tensor and the
    model has no embedding layer.
    """
    if not isinstance(x, torch.Tensor) or x.is_floating_point() or x.is_complex():
        return
    float_params = [p.dtype for p in model.parameters() if p.is_floating_point()]
    if not float_params:
        return
    if error is None and any(isinstance(m, nn.Embedding | nn.EmbeddingBag) for m in model.modules()):
        return
    if error is not None and not re.search(r"type|not implemented for", str(error), re.IGNORECASE):
        return  # failed for another reason (say, a token id out of range): torch's own message says which
    cause = f" (the model failed with: {str(error).splitlines()[0]})" if error is not None else ""
    raise DataError(f"the features are {x.dtype} but the model computes in {float_params[0]}{cause}: convert "
                    f"them with x.float() (uint8 pixels: x.float() / 255)")


def check_labels(labels: torch.Tensor, num_outputs: int, complete: bool = False) -> None:
    """Classification labels must be class indices in ``[0, num_outputs)``.

    Raises ``DataError`` for any label outside that range (on a GPU it would otherwise surface as a
    device-side assert). Warns (``MistakeWarning``) when outputs are never a target: with ``complete``
    (``labels`` holds the whole training set) for every unused output; otherwise, from one batch, only in
    the unmistakable case of 0/1 labels (32 or more) on a head of more than two outputs.

    Args:
        labels: integer tensor of class indices, any shape (float labels are soft targets and skipped).
        num_outputs: the model's number of outputs (the class dimension of its output).
        complete: whether ``labels`` are all the training labels rather than one batch.
    """
    if labels.is_floating_point() or labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_outputs:
        raise DataError(f"labels must be class indices in [0, {num_outputs}) for a model with {num_outputs} "
                        f"outputs, but range from {low} to {high}: renumber the classes from 0, or build the "
                        f"model with num_classes={high + 1}" + (" (and no negative labels)" if low < 0 else ""))
    used = set(torch.unique(labels).tolist())
    unused = [k for k in range(num_outputs) if k not in used]
    binary_by_chance = not complete and (labels.numel() < 32 or high > 1)
    if not unused or binary_by_chance:
        return
    what = "the training labels" if complete else "the first batch's labels"
    _warn(f"{what} use {len(used)} of the model's {num_outputs} outputs: outputs {_ranges(unused)} are never a "
          f"target; build the model with num_classes={high + 1}" + (" (a binary task)" if high <= 1 else ""))


def _ranges(ks: list[int]) -> str:
    """``[2, 3, 4, 7]`` → ``"2–4, 7"`` (``ks`` sorted, not empty)."""
    runs = [[ks[0], ks[0]]]
    for k in ks[1:]:
        if k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def check_ordered_loader(loader: Any) -> None:
    """Refuse a loader that shuffles where the order of examples matters (predictions, exports).

    Recognises ``loader.shuffle`` (divekit loaders) and a ``torch.utils.data.DataLoader`` with a
    ``RandomSampler``. Raises ``ShuffledLoaderError`` (a ``ConfigError`` and a ``ValueError``).
    """
    sampler = getattr(loader, "sampler", None)
    shuffled = bool(getattr(loader, "shuffle", False)) or isinstance(sampler, torch.utils.data.RandomSampler)
    if shuffled:
        raise ShuffledLoaderError(f"predictions must follow the stored order of the examples, but this "
                                  f"{type(loader).__name__} shuffles: row i would not belong to example i; use a "
                                  f"loader with shuffle=False (divekit.training.run.eval_loader makes one)")


def warn_if_training(model: nn.Module, what: str = "evaluating") -> bool:
    """Warn when ``model`` is in train mode but has layers that behave differently in eval mode.

    For evaluation helpers that take the user's model as it is. Returns True when it warned.
    """
    if not model.training:
        return False
    layers = sorted({type(m).__name__ for m in model.modules()
                     if isinstance(m, nn.modules.dropout._DropoutNd | nn.modules.batchnorm._NormBase)})
    if not layers:
        return False
    _warn(f"{what} a model still in train mode: its {', '.join(layers)} layers act as in training (random "
          f"dropout, batch statistics), so the numbers are off; call model.eval() first")
    return True


def _smaller_lr(state: Any) -> str:
    """Advice naming a learning rate ten times smaller than the configured (peak) one."""
    peak = getattr(getattr(state, "config", None), "lr", None) or state.lr
    return (f"start a new run with a smaller learning rate (--lr {peak / 10:.3g} instead of {peak:g}) or with "
            f"--clip-grad 1")


def divergence_message(loss: float, state: Any, step: int) -> str:
    """The message of ``TrainingDiverged``: the step (numbered from 0, as ``fit`` and ``state.skipped`` do),
    the epoch, the lr, and what to try."""
    return (f"loss is {loss} at step {step} (epoch {state.epoch + 1}, lr {state.lr:g}): training stopped; "
            f"{_smaller_lr(state)}")


def diverged(state: Any, loss: float, step: int) -> Exception:
    """A ``TrainingDiverged`` error carrying ``divergence_message`` (for ``raise diverged(...)``)."""
    return TrainingDiverged(divergence_message(loss, state, step))


def _first_batch(loader: Any) -> tuple[Any, Any] | None:
    """The first ``(x, y)`` batch of a re-iterable loader, without moving the global RNG (so peeking never
    changes which examples training sees)."""
    if loader is None or hasattr(loader, "__next__"):
        return None  # a one-shot iterator: peeking would eat the first batch
    with torch.random.fork_rng(devices=[]):
        batch = next(iter(loader), None)
    if not isinstance(batch, tuple | list) or len(batch) < 2:
        return None
    return batch[0], batch[1]


@torch.no_grad()
def probe(model: nn.Module, x: torch.Tensor, n: int = 2) -> torch.Tensor:
    """The model's output on the first ``n`` examples of ``x``, in eval mode (no batch-norm update),
    leaving the model's mode as it was."""
    was_training = model.training
    try:
        return model.eval()(x[:n])
    finally:
        model.train(was_training)


class MistakeChecks:
    """Training callback catching the classic mistakes (see the module docstring).

    Args:
        window: number of first steps whose loss is watched (read once per step, a sync on a GPU).
        explode_factor: stop when the loss exceeds this multiple of the first step's loss within ``window``.
    """

    def __init__(self, window: int = 100, explode_factor: float = 10.0) -> None:
        self.window, self.explode_factor = window, explode_factor
        self.first: tuple[int, float] | None = None  # (step, loss) of the first step watched
        self.seen = 0

    def on_train_start(self, state: Any) -> None:
        self.first, self.seen = None, 0
        loader = state.loaders.train if getattr(state, "loaders", None) is not None else None
        batch = _first_batch(loader)
        if batch is None:
            return
        x, y = batch
        check_devices(state.model, x, y)
        if not isinstance(x, torch.Tensor):
            return
        try:
            out = probe(state.model, x)
        except Exception as e:  # the real first step will fail the same way, with torch's own message
            check_feature_dtype(x, state.model, e)
            return
        if state.config.task == "classification" and isinstance(y, torch.Tensor) and out.dim() >= 2:
            labels = getattr(loader, "labels", None)
            complete = isinstance(labels, torch.Tensor)
            check_labels(labels if complete else y, out.shape[1], complete=complete)

    def on_step_end(self, state: Any) -> None:
        self.seen += 1
        if self.seen > self.window or state.loss is None:
            return
        step, value = state.step - 1, float(state.loss.detach().float())  # fit has already counted this step
        if not math.isfinite(value):
            if getattr(getattr(state, "guard", None), "on_nan", "stop") == "skip":
                return  # the user asked fit to skip such steps
            raise diverged(state, value, step)  # on a GPU fit itself would only notice at the epoch's end
        if self.first is None:
            self.first = (step, value)
        elif self.first[1] > 0 and value > self.explode_factor * self.first[1]:
            raise TrainingDiverged(
                f"the loss exploded in the first steps: {self.first[1]:.4g} at step {self.first[0]}, {value:.4g} at "
                f"step {step} (×{value / self.first[1]:.0f}, lr {state.lr:g}): the learning rate is too large; "
                f"{_smaller_lr(state)}")
