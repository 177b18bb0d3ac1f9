"""Optimizer update rules as pure functions, shared by the 2-D traces and the airfoil runs.

Each rule maps ``(x, g, state, **hyperparams) -> (x_new, state_new)``. ``x`` and ``g`` are a
float or a tensor of any shape (the maths is elementwise), ``state`` is ``None`` (or the book's
``0``) before the first step. One rule therefore drives a single coordinate of a 2-D trace and a
whole weight tensor of the airfoil model alike. ``torch_twin`` builds the matching
``torch.optim`` optimizer so every lab rule can be checked against PyTorch's implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Schedule = Callable[[int], float]


def _slots(state: Any, fresh: tuple) -> tuple:
    """The state tuple of a multi-slot rule, ``fresh`` before the first step (state None or 0)."""
    return state if isinstance(state, tuple) else fresh


def sgd_step(x, g, state=None, *, lr: float, schedule: Schedule | None = None):
    """(Stochastic) gradient descent: ``x <- x - lr * schedule(t) * g``; state is the step count t."""
    t = (state or 0) + 1
    eta = lr if schedule is None else lr * schedule(t)
    return x - eta * g, t


def momentum_step(x, g, state=None, *, lr: float, momentum: float):
    """Heavy ball: ``v <- momentum * v + g``, ``x <- x - lr * v``; state is the velocity v."""
    v = g if state is None else momentum * state + g
    return x - lr * v, v


def adagrad_step(x, g, state=None, *, lr: float, eps: float = 1e-6):
    """Adagrad: ``s <- s + g^2``, ``x <- x - lr * g / sqrt(s + eps)`` (the book puts eps inside)."""
    s = g * g if state is None else state + g * g
    return x - lr * g / (s + eps) ** 0.5, s


def rmsprop_step(x, g, state=None, *, lr: float, gamma: float, eps: float = 1e-6):
    """RMSProp: ``s <- gamma * s + (1 - gamma) * g^2``, ``x <- x - lr * g / sqrt(s + eps)``."""
    s = (1 - gamma) * g * g if state is None else gamma * state + (1 - gamma) * g * g
    return x - lr * g / (s + eps) ** 0.5, s


def adadelta_step(x, g, state=None, *, rho: float, eps: float = 1e-5, lr: float = 1.0):
    """Adadelta: ``s <- rho s + (1-rho) g^2``, ``d = sqrt(dx + eps) / sqrt(s + eps) * g``,
    ``x <- x - lr * d``, ``dx <- rho dx + (1-rho) d^2``; state is ``(s, dx)``; lr = 1 is the book's rule."""
    s, dx = _slots(state, (0.0, 0.0))
    s = rho * s + (1 - rho) * g * g
    d = (dx + eps) ** 0.5 / (s + eps) ** 0.5 * g
    dx = rho * dx + (1 - rho) * d * d
    return x - lr * d, (s, dx)


def adam_step(x, g, state=None, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-6):
    """Adam: ``v <- b1 v + (1-b1) g``, ``s <- b2 s + (1-b2) g^2``, bias-corrected
    ``x <- x - lr * v_hat / (sqrt(s_hat) + eps)``; state is ``(v, s, t)``."""
    v, s, t = _slots(state, (0.0, 0.0, 0))
    t += 1
    v = beta1 * v + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g * g
    v_hat, s_hat = v / (1 - beta1**t), s / (1 - beta2**t)
    return x - lr * v_hat / (s_hat**0.5 + eps), (v, s, t)


RULES: dict[str, Callable] = {
    "sgd": sgd_step,
    "momentum": momentum_step,
    "adagrad": adagrad_step,
    "rmsprop": rmsprop_step,
    "adadelta": adadelta_step,
    "adam": adam_step,
}


def torch_twin(name: str, params, hyperparams: dict[str, Any]):
    """The ``torch.optim`` optimizer that implements rule ``name`` with the same hyperparameters.

    Adagrad and RMSprop differ in one detail: torch adds eps *outside* the square root,
    ``g / (sqrt(s) + eps)``, the book inside, ``g / sqrt(s + eps)``; with eps = 1e-6 the two
    agree to a few parts in 1e4 and exactly when eps -> 0. A ``schedule`` is the caller's to
    apply (``torch.optim.lr_scheduler.LambdaLR``).
    """
    import torch

    hp = dict(hyperparams)
    hp.pop("schedule", None)
    lr = hp.pop("lr", 1.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=hp["momentum"])
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=hp.get("eps", 1e-6))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=hp["gamma"], eps=hp.get("eps", 1e-6))
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=hp["rho"], eps=hp.get("eps", 1e-5))
    if name == "adam":
        betas = (hp.get("beta1", 0.9), hp.get("beta2", 0.999))
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=hp.get("eps", 1e-6))
    raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(RULES)}")
