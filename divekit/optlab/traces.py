"""Optimization traces on small 1-D and 2-D problems: plain numbers in, lists of iterates out.

The 2-D trainers follow the book's ``train_2d`` protocol: a trainer maps
``(x1, x2, s1, s2[, f_grad]) -> (x1, x2, s1, s2)`` where ``s1, s2`` are per-coordinate states.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from divekit.optlab.rules import RULES, sgd_step, torch_twin

Grad2D = Callable[[float, float], tuple[float, float]]
Trace2D = list[tuple[float, float]]


# ---- 1-D problems ---------------------------------------------------------------------------------

def f_square(x):
    """f(x) = x^2, minimum at 0."""
    # x * x, not x**2, here and below: a Python float overflows x**2 with OverflowError past 1e154, x * x
    # to inf (as numpy does), so a diverging run still gets its numbers printed and its figure drawn
    return x * x


def f_square_grad(x):
    """f'(x) = 2x."""
    return 2 * x


def cosh_problem(c: float = 0.5) -> tuple[Callable, Callable, Callable]:
    """Convex ``f(x) = cosh(c x)`` with its gradient ``c sinh(c x)`` and Hessian ``c^2 cosh(c x)``."""
    return (lambda x: np.cosh(c * x), lambda x: c * np.sinh(c * x), lambda x: c**2 * np.cosh(c * x))


def xcos_problem(c: float = 0.15 * math.pi) -> tuple[Callable, Callable, Callable]:
    """Non-convex ``f(x) = x cos(cx)`` with ``f' = cos(cx) - cx sin(cx)``
    and ``f'' = -2c sin(cx) - c^2 x cos(cx)``."""
    return (
        lambda x: x * np.cos(c * x),
        lambda x: np.cos(c * x) - c * x * np.sin(c * x),
        lambda x: -2 * c * np.sin(c * x) - c**2 * x * np.cos(c * x),
    )


def gd(eta: float, f_grad: Callable, x0: float = 10.0, steps: int = 10) -> list[float]:
    """Gradient descent ``x <- x - eta f'(x)`` from ``x0``; returns the ``steps + 1`` iterates."""
    x, results = float(x0), [float(x0)]
    for _ in range(steps):
        x = float(x - eta * f_grad(x))
        results.append(x)
    return results


def newton(f_grad: Callable, f_hess: Callable, eta: float = 1.0, x0: float = 10.0, steps: int = 10,
           abs_hessian: bool = False) -> list[float]:
    """Newton's method ``x <- x - eta f'(x) / f''(x)``; returns the ``steps + 1`` iterates.

    ``eta < 1`` damps the step; ``abs_hessian`` preconditions with ``|f''(x)|`` so that a negative
    curvature (non-convex region) can never turn a descent step into an ascent step.
    """
    x, results = float(x0), [float(x0)]
    for _ in range(steps):
        h = f_hess(x)
        x = float(x - eta * f_grad(x) / (abs(h) if abs_hessian else h))
        results.append(x)
    return results


def describe_1d(trace: Sequence[float], x_min: float = 0.0, converged_ratio: float = 0.05) -> str:
    """Say what a 1-D trace did: ``converged``, ``slow progress`` or ``diverged``, with the numbers.

    With ``r = |x_T - x*| / |x_0 - x*|``: diverged if r > 1 (or not finite), converged if
    r < ``converged_ratio``, slow progress otherwise; oscillation (sign flips around x*) is noted.
    """
    start, end = abs(trace[0] - x_min), abs(trace[-1] - x_min)
    signs = np.sign(np.asarray(trace, dtype=float) - x_min)
    flips = int(np.sum(signs[1:] * signs[:-1] < 0))
    osc = ", oscillating" if flips >= len(trace) // 2 else ""
    if not math.isfinite(trace[-1]) or end > start:
        return f"diverged{osc}: |x - x*| grew from {start:.4g} to {end:.4g}"
    if end < converged_ratio * start:
        return f"converged{osc}: |x - x*| shrank from {start:.4g} to {end:.4g}"
    return f"slow progress{osc}: |x - x*| only shrank from {start:.4g} to {end:.4g}"


# ---- 2-D problems ---------------------------------------------------------------------------------

def f_2d(x1, x2):
    """The book's 2-D objective ``x1^2 + 2 x2^2`` (sections 11.3-11.4)."""
    return x1 * x1 + 2 * x2 * x2


def f_2d_grad(x1, x2):
    """Gradient ``(2 x1, 4 x2)`` of :func:`f_2d`."""
    return 2 * x1, 4 * x2


def f_2d_stretched(x1, x2):
    """The badly conditioned ``0.1 x1^2 + 2 x2^2`` of the momentum, Adagrad and RMSProp sections."""
    return 0.1 * (x1 * x1) + 2 * (x2 * x2)


def f_2d_stretched_grad(x1, x2):
    """Gradient ``(0.2 x1, 4 x2)`` of :func:`f_2d_stretched`."""
    return 0.2 * x1, 4 * x2


# name -> (f, gradient, formula for titles)
OBJECTIVES: dict[str, tuple[Callable, Grad2D, str]] = {
    "standard": (f_2d, f_2d_grad, "x1² + 2·x2²"),
    "stretched": (f_2d_stretched, f_2d_stretched_grad, "0.1·x1² + 2·x2²"),
}


def train_2d(trainer: Callable, steps: int = 20, f_grad: Grad2D | None = None,
             x0: tuple[float, float] = (-5.0, -2.0)) -> Trace2D:
    """Run a 2-D ``trainer`` for ``steps`` steps from ``x0`` (the book's ``train_2d``).

    Returns the ``steps + 1`` points ``(x1, x2)``; the states start at 0 as in the book.
    """
    x1, x2, s1, s2 = float(x0[0]), float(x0[1]), 0, 0
    results = [(x1, x2)]
    for _ in range(steps):
        if f_grad is None:
            x1, x2, s1, s2 = trainer(x1, x2, s1, s2)
        else:
            x1, x2, s1, s2 = trainer(x1, x2, s1, s2, f_grad)
        results.append((float(x1), float(x2)))
    return results


def trainer_2d(rule: str | Callable, **hyperparams) -> Callable:
    """A book-style 2-D trainer that applies an update rule (name or function) to each coordinate.

    The rules take the book's initial state 0 as a fresh state, so ``train_2d`` can start them.
    """
    step = RULES[rule] if isinstance(rule, str) else rule

    def trainer(x1, x2, s1, s2, f_grad):
        g1, g2 = f_grad(x1, x2)
        x1, s1 = step(x1, g1, s1, **hyperparams)
        x2, s2 = step(x2, g2, s2, **hyperparams)
        return x1, x2, s1, s2

    return trainer


def gd_2d(eta: float) -> Callable:
    """2-D gradient descent with learning rate ``eta``: ``x <- x - eta * grad f(x)``."""
    return trainer_2d(sgd_step, lr=eta)


def noisy_grad(f_grad: Grad2D, std: float = 1.0, seed: int = 0) -> Grad2D:
    """``f_grad`` plus independent N(0, std^2) noise per coordinate, from its own seeded generator."""
    rng = np.random.default_rng(seed)

    def grad(x1, x2):
        g1, g2 = f_grad(x1, x2)
        n1, n2 = rng.normal(0.0, std, size=2)
        return g1 + float(n1), g2 + float(n2)

    return grad


def constant_lr(t: int) -> float:
    """Learning-rate factor 1 at every step."""
    return 1.0


def exponential_lr(t: int) -> float:
    """Learning-rate factor ``exp(-0.1 t)`` at step t (fast decay: stalls before the minimum)."""
    return math.exp(-0.1 * t)


def polynomial_lr(t: int) -> float:
    """Learning-rate factor ``(1 + 0.1 t)^-0.5`` at step t (slow decay)."""
    return (1 + 0.1 * t) ** -0.5


SCHEDULES: dict[str, Callable[[int], float]] = {
    "constant": constant_lr, "exponential": exponential_lr, "polynomial": polynomial_lr,
}


def torch_train_2d(name: str, hyperparams: dict, f_grad: Grad2D, steps: int = 20,
                   x0: tuple[float, float] = (-5.0, -2.0)) -> Trace2D:
    """The same 2-D run as ``train_2d(trainer_2d(name, **hyperparams), ...)`` but through ``torch.optim``.

    The gradient comes from ``f_grad`` (so a noisy gradient can be replayed), a ``schedule`` in
    ``hyperparams`` becomes a ``LambdaLR``; computed in float64.
    """
    import torch

    x = torch.tensor([float(x0[0]), float(x0[1])], dtype=torch.float64, requires_grad=True)
    opt = torch_twin(name, [x], hyperparams)
    schedule = hyperparams.get("schedule")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: schedule(k + 1)) if schedule else None
    results = [(float(x0[0]), float(x0[1]))]
    for _ in range(steps):
        x1, x2 = (float(v) for v in x.detach())
        x.grad = torch.tensor(f_grad(x1, x2), dtype=torch.float64)
        opt.step()
        if sched is not None:
            sched.step()
        results.append(tuple(float(v) for v in x.detach()))
    return results
