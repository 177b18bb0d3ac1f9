"""Loss functions from scratch (D2L §3.1, §4.1, §22), with torch's reductions ``mean``, ``sum``, ``none``.

Regression losses take predictions and targets of the same shape; classification losses take scores
(n, q) or probabilities and integer labels (n,).
"""

from __future__ import annotations

import torch
from torch import Tensor

from divekit.scratch.softmax import log_softmax


def _reduce(l: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return l.mean()
    if reduction == "sum":
        return l.sum()
    if reduction == "none":
        return l
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def l1_loss(y_hat: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """``|y_hat - y|``; robust to outliers but its gradient (the sign) does not shrink near the optimum."""
    return _reduce((y_hat - y).abs(), reduction)


def mse_loss(y_hat: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """``(y_hat - y)^2`` (``nn.MSELoss``; note: no factor 1/2, unlike ``linear.squared_loss``)."""
    return _reduce((y_hat - y) ** 2, reduction)


def huber_loss(y_hat: Tensor, y: Tensor, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic near 0, linear far away: ``d^2 / 2`` if ``|d| < delta`` else ``delta (|d| - delta / 2)``."""
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    d = (y_hat - y).abs()
    return _reduce(torch.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)), reduction)


def binary_cross_entropy(p: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` for probabilities ``p`` in (0, 1).

    As in torch, each log is clamped at -100 so that ``p = 0`` or ``1`` gives a large finite loss.
    """
    log_p = torch.clamp(torch.log(p), min=-100.0)
    log_1mp = torch.clamp(torch.log(1 - p), min=-100.0)
    return _reduce(-(y * log_p + (1 - y) * log_1mp), reduction)


def binary_cross_entropy_with_logits(z: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of ``sigmoid(z)`` written stably: ``max(z, 0) - z y + log(1 + exp(-|z|))``."""
    return _reduce(torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-z.abs())), reduction)


def cross_entropy(logits: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """Multi-class cross-entropy from logits (n, q) and labels (n,): ``-log softmax(logits)[i, y_i]``.

    The log-sum-exp inside ``log_softmax`` keeps it finite for any logits, unlike ``log(softmax(.))``.
    """
    return _reduce(-log_softmax(logits)[range(len(logits)), y], reduction)
