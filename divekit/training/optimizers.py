"""Optimizers by name, with their real parameters.

``sgd`` is ``torch.optim.SGD``'s update; with fast paths on (the default) it is computed by divekit's own
``divekit.speed.sgd.SGD``, the same numbers bit for bit. ``muon`` (divekit/training/muon.py) is SGD whose hidden
weight matrices take orthogonalized steps.
"""

from __future__ import annotations

from typing import Any

import torch

from divekit.errors import ConfigError
from divekit.speed.sgd import SGD
from divekit.training.config import OPTIMIZERS
from divekit.training.muon import Muon, muon_groups
from divekit.training.param_groups import param_groups


def build_optimizer(name: str, model: torch.nn.Module, lr: float, momentum: float = 0.0,
                    nesterov: bool = False, weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, alpha: float = 0.99, decay_norm_and_bias: bool = False,
                    fast: bool = True) -> Any:
    """Build ``sgd`` (lr, momentum, nesterov, weight_decay), ``muon`` (the same, hidden weight matrices
    orthogonalized at ``LR_SCALE`` × lr: ``divekit.training.muon``), ``adam``/``adamw`` (lr, betas, eps,
    weight_decay; AdamW decouples it) or ``rmsprop`` (lr, alpha, eps, momentum, weight_decay)."""
    groups = param_groups(model, weight_decay, decay_norm_and_bias)
    if not any(g["params"] for g in groups):
        raise ConfigError("the model has no trainable parameters")
    if lr <= 0:
        raise ConfigError(f"--lr must be positive, got {lr}")
    if name in ("sgd", "muon") and nesterov and momentum <= 0:
        raise ConfigError("--nesterov needs --momentum > 0")
    if name == "sgd":
        sgd = SGD if fast else torch.optim.SGD
        return sgd(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "muon":
        return Muon(muon_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=alpha, eps=eps, momentum=momentum)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
