"""Inverted dropout from scratch (D2L §5.6).

In training each unit is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, so that
``E[dropout(x)] = x``; at evaluation time dropout is the identity, with no rescaling needed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def dropout(X: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Zero each entry of ``X`` with probability ``p`` and scale the survivors by ``1 / (1 - p)``.

    Args:
        X: any shape; the output has the same shape.
        p: drop probability, in [0, 1]. ``p = 1`` drops everything (returns zeros), ``p = 0`` keeps ``X``.
        training: when False, return ``X`` unchanged (inverted dropout needs no change at test time).
        generator: optional random generator for the mask.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape, generator=generator, dtype=X.dtype, device=X.device) > p).to(X.dtype)
    return mask * X / (1.0 - p)
