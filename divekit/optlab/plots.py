"""Figures of the optimization lab; every function returns the matplotlib Figure (save with save_figure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from divekit.report.plots import pyplot

LAB_STYLE = {"linestyle": "-", "marker": "o", "markersize": 4, "linewidth": 1.6}
TORCH_STYLE = {"linestyle": "--", "marker": "x", "markersize": 6, "linewidth": 1.2}


def _axes(ax, figsize=(5.0, 3.6)):
    """(figure, axes): the given axes and its figure, or a fresh single-axes figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = pyplot().subplots(figsize=figsize)
    return fig, ax


def show_trace(results: Sequence[float], f: Callable, ax=None, title: str | None = None,
               label: str = "iterates"):
    """Plot the 1-D iterates ``results`` on the curve of ``f`` (the book's ``show_trace``).

    The curve spans ``[-n, n]`` with ``n = max |x_t|``, as in the book.
    """
    fig, ax = _axes(ax)
    xs_t = np.asarray(results, dtype=float)
    finite = xs_t[np.isfinite(xs_t)]
    # a diverged trace ends in inf or nan: the curve spans its finite part, in 1000 points like the book's
    # arange(-n, n, n / 500) but scaled from [-1, 1], as the width 2n of a huge n overflows to inf
    n = max(float(np.max(np.abs(finite))) if finite.size else 0.0, 1e-3)
    xs = n * np.linspace(-1.0, 1.0, 1000)
    with np.errstate(over="ignore", invalid="ignore"):  # f of a huge x is inf: not drawn, not warned about
        ax.plot(xs, f(xs), color="#1f77b4", label="f(x)")
        ax.plot(xs_t, f(xs_t), color="#ff7f0e", label=label, **LAB_STYLE)
        ax.plot(xs_t[0], f(xs_t[0]), "s", color="black", label="start")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _drawable(trace: Sequence[tuple[float, float]]) -> np.ndarray:
    """The points of a 2-D trace as an (n, 2) array, with those beyond 1e6 set to NaN (a gap in the line).

    Such points lie far outside the plot box (see ``_grid_limits``) and Agg can hang stroking a dashed
    line through points near 1e300, which a diverging run reaches.
    """
    pts = np.array(trace, dtype=float).reshape(-1, 2)
    pts[~np.all(np.abs(pts) < 1e6, axis=1)] = np.nan
    return pts


def _grid_limits(traces: Sequence[Sequence[tuple[float, float]]]) -> tuple[float, float, float, float]:
    """Plot box: the book's [-5.5, 1] x [-3, 1], grown to hold every (finite) trace point."""
    pts = np.array([p for t in traces for p in t], dtype=float).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1) & np.all(np.abs(pts) < 1e3, axis=1)]
    lo1, hi1, lo2, hi2 = -5.5, 1.0, -3.0, 1.0
    if len(pts):
        lo1, hi1 = min(lo1, pts[:, 0].min() - 0.5), max(hi1, pts[:, 0].max() + 0.5)
        lo2, hi2 = min(lo2, pts[:, 1].min() - 0.5), max(hi2, pts[:, 1].max() + 0.5)
    return lo1, hi1, lo2, hi2


def show_traces_2d(f: Callable, traces: Mapping[str, Sequence[tuple[float, float]]], ax=None,
                   title: str | None = None):
    """Contours of ``f(x1, x2)`` with one or more optimization paths; the first is drawn as the lab's
    (solid, circles), the others dashed with crosses so that coinciding twins stay visible."""
    fig, ax = _axes(ax, figsize=(5.6, 4.0))
    lo1, hi1, lo2, hi2 = _grid_limits(list(traces.values()))
    x1, x2 = np.meshgrid(np.linspace(lo1, hi1, 200), np.linspace(lo2, hi2, 200), indexing="ij")
    cs = ax.contour(x1, x2, f(x1, x2), levels=12, colors="#1f77b4", linewidths=0.7, alpha=0.7)
    ax.clabel(cs, fontsize=6, fmt="%.2g")
    colors = ["#ff7f0e", "#d62728", "#2ca02c", "#9467bd"]
    for i, (label, trace) in enumerate(traces.items()):
        style = LAB_STYLE if i == 0 else TORCH_STYLE
        pts = _drawable(trace)
        ax.plot(pts[:, 0], pts[:, 1], color=colors[i % len(colors)], label=label, **style)
    ax.plot(0, 0, "*", color="black", markersize=10, label="minimum (0, 0)")
    ax.set_xlim(lo1, hi1)
    ax.set_ylim(lo2, hi2)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def show_trace_2d(f: Callable, results: Sequence[tuple[float, float]], ax=None, title: str | None = None):
    """The book's ``show_trace_2d``: contours of ``f`` with one path."""
    return show_traces_2d(f, {"path": results}, ax=ax, title=title)


def plot_convexity(functions: Mapping[str, Callable], verdicts: Mapping[str, str], a: float = -0.5,
                   b: float = 1.0, lo: float = -2.0, hi: float = 2.0):
    """One panel per function with the chord from ``a`` to ``b``: convex iff every chord lies above f."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(functions), figsize=(4.0 * len(functions), 3.4))
    xs = np.linspace(lo, hi, 400)
    for ax, (name, f) in zip(np.atleast_1d(axes), functions.items(), strict=True):
        ax.plot(xs, f(xs), label=f"f(x) = {name}")
        ax.plot([a, b], [f(a), f(b)], "o--", color="#d62728", label=f"chord from {a} to {b}")
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.set_title(f"{name}: {verdicts[name]}", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Convexity: f(λa + (1-λ)b) ≤ λf(a) + (1-λ)f(b) for all a, b, λ", fontsize=11)
    fig.tight_layout()
    return fig


def plot_critical_points(panels: Mapping[str, tuple[Callable, float, float, list[tuple[float, float, str]]]]):
    """One panel per function ``name -> (f, lo, hi, [(x, f(x), kind), ...])`` with the points marked."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.6))
    markers = {"local minimum": ("v", "#2ca02c"), "global minimum": ("*", "#d62728"),
               "local maximum": ("^", "#9467bd"), "saddle point": ("D", "#ff7f0e")}
    for ax, (name, (f, lo, hi, points)) in zip(np.atleast_1d(axes), panels.items(), strict=True):
        xs = np.linspace(lo, hi, 400)
        ax.plot(xs, f(xs), color="#1f77b4", label=f"f(x) = {name}")
        for x, fx, kind in points:
            m, c = markers[kind]
            ax.plot(x, fx, m, color=c, markersize=10, label=f"{kind} x = {x:.3f}")
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.set_title(f"Stationary points of {name} on [{lo:g}, {hi:g}]", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


_LAB_CURVE = {"linestyle": "-", "linewidth": 2.6, "alpha": 0.55, "marker": "o", "markersize": 3}
_TORCH_CURVE = {"linestyle": "--", "linewidth": 1.1, "marker": "x", "markersize": 4}


def plot_loss_comparison(groups: Mapping[str, Mapping[str, Mapping[str, object]]]):
    """Loss vs epoch and loss vs training time (log scale), one row per group.

    ``groups``: row title -> run label -> ``{'lab': curve, 'torch': curve}`` where a curve has
    ``epochs``, ``times`` and ``losses``; lab runs are solid, their torch.optim twins dashed.
    """
    plt = pyplot()
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(len(groups), 2, figsize=(11.0, 3.6 * len(groups)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (title, runs), (ax_e, ax_t) in zip(groups.items(), axes, strict=True):
        for i, (label, pair) in enumerate(runs.items()):
            color = colors[i % len(colors)]
            for kind, style in (("lab", _LAB_CURVE), ("torch", _TORCH_CURVE)):
                curve = pair.get(kind)
                if curve is None:
                    continue
                name = f"{label} ({'lab' if kind == 'lab' else 'torch.optim'})"
                ax_e.plot(curve.epochs, curve.losses, color=color, label=name, **style)
                ax_t.plot(curve.times, curve.losses, color=color, label=name, **style)
        for ax, xlabel in ((ax_e, "epoch"), (ax_t, "training time (s, log scale)")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel("loss (squared error / 2)")
            ax.grid(alpha=0.3)
        ax_t.set_xscale("log")
        ax_t.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short log axis overlap
        ax_e.set_title(f"{title}: loss vs epoch", fontsize=10)
        ax_t.set_title(f"{title}: loss vs time", fontsize=10)
        ax_t.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Airfoil linear regression: lab optimizers (solid) vs torch.optim twins (dashed)",
                 fontsize=11)
    fig.tight_layout()
    return fig
