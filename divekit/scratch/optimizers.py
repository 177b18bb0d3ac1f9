"""Optimizers from scratch (D2L ch. 12), written to follow ``torch.optim``'s update rules exactly.

Every optimizer keeps a small state per parameter and, on ``step()``, reads ``p.grad`` (``g``). Weight decay
``wd`` is added to the gradient (``g + wd p``, i.e. an L2 penalty ``wd/2 ||p||^2``), except in AdamW, which
decays the weights directly (``p <- p - lr wd p``), decoupled from the adaptive scaling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor


class Optimizer:
    """Base class: ``zero_grad`` sets the gradients to None (torch's default), ``step`` calls ``update``.

    Args:
        params: tensors that require gradients.
        lr: learning rate eta.
        weight_decay: L2 coefficient wd >= 0.
    """

    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0 or weight_decay < 0:
            raise ValueError(f"lr and weight_decay must be >= 0, got lr={lr}, weight_decay={weight_decay}")
        self.lr, self.weight_decay = lr, weight_decay
        self.state: list[dict[str, Tensor]] = [{} for _ in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay and not self.decoupled_weight_decay:
                g = g + self.weight_decay * p
            self.update(p, g, state)

    def update(self, p: Tensor, g: Tensor, state: dict[str, Tensor]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain, momentum or Nesterov SGD.

    Momentum: ``v <- beta v + g`` (``v = g`` on the first step), ``p <- p - lr v``.
    Nesterov looks ahead: ``p <- p - lr (g + beta v)``.
    """

    def __init__(
        self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov

    def update(self, p, g, state):
        if self.momentum:
            v = state["v"] = g.clone() if "v" not in state else self.momentum * state["v"] + g
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g


class Adagrad(Optimizer):
    """``s <- s + g^2``, ``p <- p - lr g / (sqrt(s) + eps)``: per-coordinate steps that only shrink."""

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = eps

    def update(self, p, g, state):
        s = state["s"] = state.get("s", torch.zeros_like(p)) + g * g
        p -= self.lr * g / (torch.sqrt(s) + self.eps)


class RMSProp(Optimizer):
    """``s <- a s + (1 - a) g^2``, ``p <- p - lr g / (sqrt(s) + eps)``: Adagrad with a leaky memory.

    The decay ``a`` is the book's gamma, named ``alpha`` as in ``torch.optim.RMSprop``.
    """

    def __init__(
        self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def update(self, p, g, state):
        s = state["s"] = self.alpha * state.get("s", torch.zeros_like(p)) + (1 - self.alpha) * g * g
        p -= self.lr * g / (torch.sqrt(s) + self.eps)


class Adadelta(Optimizer):
    """No learning rate needed (``lr = 1``): the step is rescaled by the RMS of the past steps.

    ``s <- rho s + (1 - rho) g^2``, ``g' = sqrt(delta + eps) / sqrt(s + eps) g``,
    ``delta <- rho delta + (1 - rho) g'^2``, ``p <- p - lr g'``.
    """

    def __init__(
        self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def update(self, p, g, state):
        rho = self.rho
        s = state["s"] = rho * state.get("s", torch.zeros_like(p)) + (1 - rho) * g * g
        delta = state.get("delta", torch.zeros_like(p))
        g_scaled = torch.sqrt(delta + self.eps) / torch.sqrt(s + self.eps) * g
        state["delta"] = rho * delta + (1 - rho) * g_scaled * g_scaled
        p -= self.lr * g_scaled


class Adam(Optimizer):
    """Momentum plus RMSProp with bias correction.

    ``v <- b1 v + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2``; both start at 0 and are biased towards it, so
    ``v^ = v / (1 - b1^t)``, ``s^ = s / (1 - b2^t)`` and ``p <- p - lr v^ / (sqrt(s^) + eps)``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def update(self, p, g, state):
        b1, b2 = self.betas
        v = state["v"] = b1 * state.get("v", torch.zeros_like(p)) + (1 - b1) * g
        s = state["s"] = b2 * state.get("s", torch.zeros_like(p)) + (1 - b2) * g * g
        v_hat = v / (1 - b1**self.t)
        denom = torch.sqrt(s) / math.sqrt(1 - b2**self.t) + self.eps
        p -= self.lr * v_hat / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p <- p (1 - lr wd)``, then the Adam step on the plain gradient."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, p, g, state):
        p.mul_(1 - self.lr * self.weight_decay)
        super().update(p, g, state)


# name -> (scratch class, name of the torch.optim twin, keyword arguments valid for both)
SETUPS: dict[str, tuple[type[Optimizer], str, dict]] = {
    "sgd": (SGD, "SGD", {"lr": 0.05}),
    "momentum": (SGD, "SGD", {"lr": 0.05, "momentum": 0.9}),
    "nesterov": (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, "Adagrad", {"lr": 0.1}),
    "rmsprop": (RMSProp, "RMSprop", {"lr": 0.01, "alpha": 0.99}),
    "adadelta": (Adadelta, "Adadelta", {"lr": 1.0, "rho": 0.9}),
    "adam": (Adam, "Adam", {"lr": 0.01}),
    "adamw": (AdamW, "AdamW", {"lr": 0.01}),
}


def make_pair(name: str, scratch_params, torch_params, weight_decay: float = 0.0, **overrides):
    """The scratch optimizer ``name`` and its ``torch.optim`` twin with the same settings.

    Settings are those of ``SETUPS[name]``, with ``weight_decay`` and any ``overrides`` (e.g. ``lr``) applied.
    """
    if name not in SETUPS:
        raise ValueError(f"optimizer must be one of {sorted(SETUPS)}, got {name!r}")
    cls, torch_name, kwargs = SETUPS[name]
    kwargs = {**kwargs, "weight_decay": weight_decay, **overrides}
    return cls(scratch_params, **kwargs), getattr(torch.optim, torch_name)(torch_params, **kwargs)
