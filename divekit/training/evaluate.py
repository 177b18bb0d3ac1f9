"""Evaluation: mean loss and accuracy over a loader, test-time augmentation, and class probabilities."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from divekit.training import distributed
from divekit.training.device import autocast


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
             predictions: list[torch.Tensor] | None = None, tta_shift: int = 0,
             losses: list[torch.Tensor] | None = None) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of ``model`` over ``loader``, in eval mode.

    ``tta_flip`` averages the softmax of each image and its mirror image (test-time augmentation);
    ``tta_shift`` adds those views moved by that many pixels (``tta_probabilities``), the uncovered edge
    filled with the loader's ``pad_value`` (a black pixel, normalised) if it has one.
    ``predictions``: a list that receives the predicted class of each batch's examples, in loader order;
    ``losses``: one that receives their cross-entropy, ``-log p(true class)`` (classification).
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
            if losses is not None:
                losses.append(F.nll_loss(out if tta else out.log_softmax(1), y, reduction="none"))
        loss_sum += loss.double() * len(y)
        n += len(y)
    model.train(was_training)
    loss_total, correct_total, n = distributed.sum_over_ranks(loss_sum, correct, n) if over_ranks else (
        loss_sum.item(), correct.item(), n)
    result = {"loss": loss_total / max(n, 1)}
    if task == "classification":
        result["acc"] = correct_total / max(n, 1)
    return result


def predict_probabilities(model: torch.nn.Module, loader: Iterable, device: torch.device | None = None,
                          dtype: torch.dtype | None = None, tta_flip: bool = False, tta_shift: int = 0) -> torch.Tensor:
    """Class probabilities ``[N, classes]`` (on the CPU) for every example of ``loader``, which must keep the
    stored order (a shuffling loader is refused: its rows would not match the examples)."""
    from divekit.diagnose.checks import check_ordered_loader

    check_ordered_loader(loader)
    device = device or next(model.parameters()).device
    fill = getattr(loader, "pad_value", 0.0)
    was_training = model.training
    model.eval()
    probs = []
    with torch.inference_mode():
        for x, *_ in loader:
            with autocast(device, dtype):
                images = x.dim() == 4  # test-time views are for images
                p = tta_probabilities(model, x, tta_flip, tta_shift, fill) if images else model(x).float().softmax(1)
            probs.append(p.float().cpu())
    model.train(was_training)
    return torch.cat(probs) if probs else torch.zeros(0, 0)
