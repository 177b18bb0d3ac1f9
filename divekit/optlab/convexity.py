"""Numeric checks of convexity, Jensen's inequality and stationary points of 1-D functions."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# The book's sample functions (section 11.2): name -> (f, what the definition says about it)
SAMPLE_FUNCTIONS: dict[str, tuple[Callable, bool]] = {
    "0.5·x²": (lambda x: 0.5 * x**2, True),
    "cos(πx)": (lambda x: np.cos(np.pi * x), False),
    "exp(0.5·x)": (lambda x: np.exp(0.5 * x), True),
}


def convexity_violation(f: Callable, lo: float, hi: float, n: int = 10_000, seed: int = 0) -> float:
    """Largest violation of ``f(l a + (1-l) b) <= l f(a) + (1-l) f(b)`` over ``n`` random a, b, l.

    a, b are uniform on [lo, hi] and l on [0, 1]; a result ``<= 0`` (up to rounding) means no
    sample contradicted convexity, a clearly positive one is a witness that f is not convex.
    """
    rng = np.random.default_rng(seed)
    a, b, lam = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n), rng.uniform(0.0, 1.0, n)
    gap = f(lam * a + (1 - lam) * b) - (lam * f(a) + (1 - lam) * f(b))
    return float(np.max(gap))


def is_convex_numeric(f: Callable, lo: float, hi: float, n: int = 10_000, seed: int = 0,
                      tol: float = 1e-9) -> bool:
    """True when no sampled chord of f on [lo, hi] lies below the function (see convexity_violation)."""
    scale = max(1.0, float(np.max(np.abs(f(np.linspace(lo, hi, 101))))))
    return convexity_violation(f, lo, hi, n, seed) <= tol * scale


def jensen_gap(f: Callable, samples: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``E[f(X)] - f(E[X])`` for the (weighted) empirical distribution of ``samples``; >= 0 for convex f."""
    x = np.asarray(samples, dtype=float)
    w = np.full(x.shape, 1.0 / x.size) if weights is None else np.asarray(weights, float) / np.sum(weights)
    return float(np.sum(w * f(x)) - f(np.sum(w * x)))


def _golden_min(h: Callable, a: float, b: float, iters: int = 100) -> float:
    """Minimiser of a unimodal ``h`` on [a, b] by golden-section search."""
    r = (math.sqrt(5) - 1) / 2
    for _ in range(iters):
        c, d = b - r * (b - a), a + r * (b - a)
        a, b = (a, d) if h(c) < h(d) else (c, b)
    return (a + b) / 2


def _bisect_root(h: Callable, a: float, b: float, iters: int = 100) -> float:
    """A zero of ``h`` on [a, b] where ``h(a)`` and ``h(b)`` differ in sign, by bisection."""
    ha = float(h(a))
    for _ in range(iters):
        m = (a + b) / 2
        hm = float(h(m))
        if hm == 0:
            return m
        a, b, ha = (m, b, hm) if (hm > 0) == (ha > 0) else (a, m, ha)
    return (a + b) / 2


def stationary_points(f_grad: Callable, lo: float, hi: float, n: int = 2001,
                      rel_tol: float = 1e-3) -> list[float]:
    """Points in [lo, hi] where ``f'(x) = 0``, including zeros where f' touches 0 without a sign change.

    A grid of ``n`` points brackets each candidate: a sign change of f' (refined by bisection) or
    a local minimum of |f'| below ``rel_tol * max|f'|`` (refined by golden-section search on |f'|).
    """
    xs = np.linspace(lo, hi, n)
    g = np.asarray(f_grad(xs), dtype=float)
    tol = rel_tol * float(np.max(np.abs(g)))
    found: list[float] = []
    for i in range(n - 1):
        if g[i] == 0 or g[i] * g[i + 1] < 0:
            x = float(xs[i]) if g[i] == 0 else _bisect_root(f_grad, xs[i], xs[i + 1])
        elif 0 < i and abs(g[i]) <= abs(g[i - 1]) and abs(g[i]) <= abs(g[i + 1]) and abs(g[i]) < tol:
            x = _golden_min(lambda t: abs(float(f_grad(t))), xs[i - 1], xs[i + 1])
        else:
            continue
        if not found or abs(x - found[-1]) > 2 * (hi - lo) / n:
            found.append(float(x))
    return found


def classify_stationary(f_grad: Callable, x: float, h: float = 1e-4) -> str:
    """``local minimum``, ``local maximum`` or ``saddle point`` from the signs of f' left and right of x."""
    left, right = float(f_grad(x - h)), float(f_grad(x + h))
    if left < 0 < right:
        return "local minimum"
    if left > 0 > right:
        return "local maximum"
    return "saddle point"


def critical_points(f: Callable, f_grad: Callable, lo: float, hi: float) -> list[tuple[float, float, str]]:
    """Stationary points ``(x, f(x), kind)`` of f on [lo, hi]; the lowest minimum becomes ``global minimum``.

    "Global" means lowest among the stationary points and both ends of the interval.
    """
    points = [(x, float(f(x)), classify_stationary(f_grad, x)) for x in stationary_points(f_grad, lo, hi)]
    minima = [p for p in points if p[2] == "local minimum"]
    if minima:
        best = min(minima, key=lambda p: p[1])
        if best[1] <= min(float(f(lo)), float(f(hi))):
            points[points.index(best)] = (best[0], best[1], "global minimum")
    return points
