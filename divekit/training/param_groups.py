"""Parameter groups: weight decay on weight matrices and filters, none on biases and normalisation weights."""

from __future__ import annotations

import torch


def param_groups(model: torch.nn.Module, weight_decay: float, decay_norm_and_bias: bool = False,
                 skip: frozenset[int] = frozenset()) -> list[dict]:
    """Split parameters so weight decay skips biases and normalisation weights (1-D tensors) unless asked.
    ``skip``: ``id``s of parameters left out (another group holds them)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad and id(p) not in skip:
            (decay if p.ndim > 1 or decay_norm_and_bias else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups
