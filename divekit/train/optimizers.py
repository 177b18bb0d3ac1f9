"""Optimizers by name, with their real parameters."""

from __future__ import annotations

import torch

from divekit.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def param_groups(model: torch.nn.Module, weight_decay: float, decay_norm_and_bias: bool = False) -> list[dict]:
    """Split parameters so weight decay skips biases and normalisation weights (1-D tensors) unless asked."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 or decay_norm_and_bias else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(name: str, model: torch.nn.Module, lr: float, momentum: float = 0.0,
                    nesterov: bool = False, weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, alpha: float = 0.99, decay_norm_and_bias: bool = False) -> torch.optim.Optimizer:
    """Build ``sgd`` (lr, momentum, nesterov, weight_decay), ``adam``/``adamw`` (lr, betas, eps,
    weight_decay; AdamW decouples it) or ``rmsprop`` (lr, alpha, eps, momentum, weight_decay)."""
    groups = param_groups(model, weight_decay, decay_norm_and_bias)
    if not any(g["params"] for g in groups):
        raise ConfigError("the model has no trainable parameters")
    if lr <= 0:
        raise ConfigError(f"--lr must be positive, got {lr}")
    if name == "sgd":
        if nesterov and momentum <= 0:
            raise ConfigError("--nesterov needs --momentum > 0")
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=alpha, eps=eps, momentum=momentum)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
