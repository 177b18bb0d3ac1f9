"""The lab's experiments: each prints its key numbers and saves PNG figures and ``results.json``
into a run directory. Called by ``divekit optim <experiment>``; also usable from Python."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from divekit.errors import ConfigError, DataError
from divekit.optlab.convexity import SAMPLE_FUNCTIONS, convexity_violation, critical_points, jensen_gap
from divekit.optlab.plots import (
    plot_convexity,
    plot_critical_points,
    plot_loss_comparison,
    show_trace,
    show_traces_2d,
)
from divekit.optlab.traces import (
    OBJECTIVES,
    SCHEDULES,
    cosh_problem,
    describe_1d,
    f_2d_grad,
    f_square,
    f_square_grad,
    gd,
    newton,
    noisy_grad,
    torch_train_2d,
    train_2d,
    trainer_2d,
    xcos_problem,
)
from divekit.report.plots import pyplot, save_figure
from divekit.runs import write_json

# 2-D experiments: name -> (rule, default hyperparameters, steps, objective). The book's values where
# it has them; the book shows no 2-D Adadelta or Adam, so those defaults are chosen to reach (0, 0).
TWO_D: dict[str, tuple[str, dict[str, float], int, str]] = {
    "gd2d": ("sgd", {"lr": 0.1}, 20, "standard"),
    "momentum": ("momentum", {"lr": 0.6, "momentum": 0.5}, 20, "stretched"),
    "adagrad": ("adagrad", {"lr": 2.0, "eps": 1e-6}, 20, "stretched"),
    "rmsprop": ("rmsprop", {"lr": 0.4, "gamma": 0.9, "eps": 1e-6}, 20, "stretched"),
    "adadelta": ("adadelta", {"rho": 0.9, "eps": 1e-3}, 100, "stretched"),
    "adam": ("adam", {"lr": 0.2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6}, 100, "stretched"),
}


def _save(fig, run_dir: Path, name: str) -> Path:
    path = save_figure(fig, Path(run_dir) / name)
    print(f"saved {path}")
    return path


def _finish(run_dir: Path, command: str, options: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    write_json(Path(run_dir) / "results.json", {"command": command, "options": options, "results": results})
    return results


def _hp(hyperparams: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in hyperparams.items() if isinstance(v, int | float))


def gd1d(run_dir: Path, lrs: tuple[float, ...] = (0.2, 0.05, 1.1), steps: int = 10, x0: float = 10.0) -> dict:
    """Gradient descent on f(x) = x^2 for each learning rate: the trace, the verdict, one panel each."""
    fig, axes = pyplot().subplots(1, len(lrs), figsize=(4.3 * len(lrs), 3.5), squeeze=False)
    results = {}
    for ax, lr in zip(axes[0], lrs, strict=True):
        trace = gd(lr, f_square_grad, x0, steps)
        verdict = describe_1d(trace)
        print(f"lr {lr:g}: x = " + ", ".join(f"{x:.4g}" for x in trace))
        print(f"  epoch {steps}, x: {trace[-1]:f} -> {verdict}")
        title = f"η = {lr:g}: {verdict.split(':')[0]}"
        show_trace(trace, f_square, ax=ax, label=f"x_t, η = {lr:g}", title=title)
        results[f"{lr:g}"] = {"trace": trace, "verdict": verdict}
    fig.suptitle(f"Gradient descent on f(x) = x² from x = {x0:g}, {steps} steps", fontsize=11)
    fig.tight_layout()
    _save(fig, run_dir, "gd1d.png")
    return _finish(run_dir, "gd1d", {"lrs": list(lrs), "steps": steps, "x0": x0}, results)


def trace_2d(run_dir: Path, name: str, hyperparams: dict[str, float] | None = None, steps: int | None = None,
             objective: str | None = None) -> dict:
    """One 2-D optimizer of ``TWO_D`` from (-5, -2): lab path and ``torch.optim`` twin on the contours."""
    rule, default_hp, default_steps, default_objective = TWO_D[name]
    hyperparams = {**default_hp, **(hyperparams or {})}
    steps, objective = steps or default_steps, objective or default_objective
    f, grad, formula = OBJECTIVES[objective]
    lab = train_2d(trainer_2d(rule, **hyperparams), steps, f_grad=grad)
    twin = torch_train_2d(rule, hyperparams, grad, steps)
    diff = max(abs(a - b) for p, q in zip(lab, twin, strict=True) for a, b in zip(p, q, strict=True))
    print(f"{name} on f(x1, x2) = {formula} from (-5, -2), {_hp(hyperparams)}")
    for label, path in (("lab", lab), ("torch.optim", twin)):
        print(f"  {label:12s} epoch {steps}, x1: {path[-1][0]:f}, x2: {path[-1][1]:f}, f: {f(*path[-1]):.3g}")
    print(f"  largest |lab - torch.optim| along the path: {diff:.2e}")
    title = (f"{name} ({_hp(hyperparams)}) on f = {formula}\n"
             f"end ({lab[-1][0]:.4f}, {lab[-1][1]:.4f}) after {steps} steps")
    fig = show_traces_2d(f, {f"lab {name}": lab, "torch.optim twin": twin}, title=title)
    _save(fig, run_dir, f"{name}.png")
    options = {"hyperparams": hyperparams, "steps": steps, "objective": objective}
    return _finish(run_dir, name, options, {"lab": lab, "torch": twin, "max_abs_diff": diff})


def sgd(run_dir: Path, lr: float = 0.1, steps: int = 50, noise: float = 1.0, seed: int = 0,
        schedules: tuple[str, ...] = ("constant", "exponential", "polynomial")) -> dict:
    """SGD on x1^2 + 2 x2^2 with N(0, noise^2) gradient noise, one panel per learning-rate schedule."""
    f, _, formula = OBJECTIVES["standard"]
    fig, axes = pyplot().subplots(1, len(schedules), figsize=(5.4 * len(schedules), 4.0), squeeze=False)
    results = {}
    for ax, name in zip(axes[0], schedules, strict=True):
        hp = {"lr": lr, "schedule": SCHEDULES[name]}
        lab = train_2d(trainer_2d("sgd", **hp), steps, f_grad=noisy_grad(f_2d_grad, noise, seed))
        twin = torch_train_2d("sgd", hp, noisy_grad(f_2d_grad, noise, seed), steps)
        dist = math.hypot(*lab[-1])
        print(f"sgd, {name} learning rate: epoch {steps}, x1: {lab[-1][0]:f}, x2: {lab[-1][1]:f} "
              f"(distance to the minimum {dist:.4f}; "
              f"torch.optim + LambdaLR: {twin[-1][0]:f}, {twin[-1][1]:f})")
        title = f"{name} lr, η = {lr:g}, noise σ = {noise:g}\nend ({lab[-1][0]:.3f}, {lab[-1][1]:.3f})"
        show_traces_2d(f, {"lab sgd": lab, "torch.optim twin": twin}, ax=ax, title=title)
        results[name] = {"lab": lab, "torch": twin, "distance": dist}
    fig.suptitle(f"SGD with noisy gradients on f = {formula}, {steps} steps", fontsize=11)
    fig.tight_layout()
    _save(fig, run_dir, "sgd.png")
    return _finish(run_dir, "sgd", {"lr": lr, "steps": steps, "noise": noise, "seed": seed}, results)


def _newton_verdict(f_grad, f_hess, x: float) -> str:
    g, h = float(f_grad(x)), float(f_hess(x))
    where = "a local minimum (f'' > 0)" if h > 0 else "a local MAXIMUM (f'' < 0): it went the wrong way"
    return where if abs(g) < 1e-6 else f"approaching {where}, f'(x) = {g:.2g}"


def _newton_problems(c_cosh: float, c_xcos: float) -> dict[str, tuple[Callable, Callable, Callable]]:
    """The Newton experiment's problems: title -> (f, f', f'')."""
    return {f"cosh({c_cosh:g}x)": cosh_problem(c_cosh), f"x·cos({c_xcos / math.pi:.3g}πx)": xcos_problem(c_xcos)}


def newton_undefined_at(x0: float, c_cosh: float = 0.5, c_xcos: float = 0.15 * math.pi) -> str | None:
    """Why Newton's method cannot start at ``x0`` on the experiment's problems, or None when it can.

    The step ``f'(x) / f''(x)`` needs finite f, f', f'' and ``f'' != 0``: cosh(cx) overflows a float64
    beyond ``|x| = acosh(max float) / c`` (about 1421 for c = 0.5), and ``f''(0) = 0`` for x cos(cx).
    """
    if not math.isfinite(x0):
        return f"expected a finite number, got {x0:g}"
    for title, (f, f_grad, f_hess) in _newton_problems(c_cosh, c_xcos).items():
        with np.errstate(all="ignore"):  # the overflow is the answer here, not something to warn about
            fx, gx, hx = (float(fn(x0)) for fn in (f, f_grad, f_hess))
        if not (math.isfinite(fx) and math.isfinite(gx) and math.isfinite(hx)):
            limit = math.acosh(sys.float_info.max) / c_cosh
            return f"expected |x0| < {limit:.6g}, got {x0:g}: f(x) = {title} overflows a float64 there"
        if hx == 0:
            return (f"expected a point where f''(x) != 0, got {x0:g}: f''({x0:g}) = 0 for f(x) = {title}, "
                    "so the Newton step f'(x)/f''(x) is undefined there")
    return None


def newton_experiment(run_dir: Path, x0: float = 10.0, steps: int = 10, c_cosh: float = 0.5,
                      c_xcos: float = 0.15 * math.pi, damped_eta: float = 0.5) -> dict:
    """Newton on convex cosh(cx) and on non-convex x cos(cx): plain, damped (eta < 1) and |f''| variants.

    Raises:
        ConfigError: the method is undefined at ``x0`` (see ``newton_undefined_at``).
    """
    why = newton_undefined_at(x0, c_cosh, c_xcos)
    if why:
        raise ConfigError(f"x0: {why}")
    (f_cosh, cosh), (f_xcos, xcos) = _newton_problems(c_cosh, c_xcos).items()
    runs = {
        f"{f_cosh}, η = 1": (cosh, {}),
        f"{f_xcos}, η = 1": (xcos, {}),
        f"{f_xcos}, damped η = {damped_eta:g}": (xcos, {"eta": damped_eta}),
        f"{f_xcos}, |f''| preconditioned": (xcos, {"abs_hessian": True}),
    }
    fig, axes = pyplot().subplots(1, len(runs), figsize=(4.3 * len(runs), 3.6))
    results = {}
    for ax, (label, ((f, f_grad, f_hess), options)) in zip(axes, runs.items(), strict=True):
        trace = newton(f_grad, f_hess, x0=x0, steps=steps, **options)
        verdict = _newton_verdict(f_grad, f_hess, trace[-1])
        fx = float(f(trace[-1]))
        print(f"newton on {label}: epoch {steps}, x: {trace[-1]:f}, f(x): {fx:.4f} -> {verdict}")
        show_trace(trace, f, ax=ax, title=f"{label}\nend x = {trace[-1]:.4f}")
        results[label] = {"trace": trace, "verdict": verdict}
    fig.suptitle(f"Newton's method from x = {x0:g}, {steps} steps", fontsize=11)
    fig.tight_layout()
    _save(fig, run_dir, "newton.png")
    return _finish(run_dir, "newton", {"x0": x0, "steps": steps, "c_cosh": c_cosh, "c_xcos": c_xcos}, results)


def convexity(run_dir: Path, lo: float = -2.0, hi: float = 2.0, samples: int = 10_000, seed: int = 0) -> dict:
    """Check the convexity definition and Jensen's inequality on the book's sample functions;
    mark the minima of x cos(pi x) and the saddle point of x^3."""
    x = np.random.default_rng(seed).normal(size=samples)
    results, verdicts = {}, {}
    for name, (f, expected) in SAMPLE_FUNCTIONS.items():
        worst = convexity_violation(f, lo, hi, samples, seed)
        verdicts[name] = "convex" if worst <= 1e-9 else "not convex"
        gap = jensen_gap(f, x)
        print(f"{name:11s} largest chord violation on [{lo:g}, {hi:g}]: {worst:+.3g} -> {verdicts[name]}"
              f" (the book: {'convex' if expected else 'not convex'}); Jensen E[f(X)] - f(E[X]) = {gap:+.4f}")
        results[name] = {"violation": worst, "verdict": verdicts[name], "jensen_gap": gap}
    _save(plot_convexity({k: v[0] for k, v in SAMPLE_FUNCTIONS.items()}, verdicts), run_dir, "convexity.png")
    panels = {
        "x·cos(πx)": (lambda t: t * np.cos(np.pi * t),
                      lambda t: np.cos(np.pi * t) - np.pi * t * np.sin(np.pi * t), -1.0, 2.0),
        "x³": (lambda t: t**3, lambda t: 3 * t**2, -2.0, 2.0),
    }
    marked = {}
    for name, (f, f_grad, a, b) in panels.items():
        points = critical_points(f, f_grad, a, b)
        print(f"stationary points of {name} on [{a:g}, {b:g}]: "
              + "; ".join(f"{kind} at x = {x:.4f}" for x, _, kind in points))
        marked[name] = (f, a, b, points)
        results[f"stationary {name}"] = points
    _save(plot_critical_points(marked), run_dir, "critical_points.png")
    return _finish(run_dir, "convexity", {"lo": lo, "hi": hi, "samples": samples, "seed": seed}, results)


AIRFOIL_ROWS = 1500  # the book's runs use the first 1500 rows (GD takes them as one batch)


def airfoil_table(data: str | os.PathLike = "airfoil",
                  data_dir: str | os.PathLike | None = None) -> tuple[Path, np.ndarray]:
    """The airfoil file that ``compare`` reads and its table, checked to hold ``AIRFOIL_ROWS`` rows.

    Args:
        data: ``"airfoil"`` (looked up in ``data_dir``) or the path of a .dat file.
        data_dir: data folder for ``"airfoil"`` (default: ``$DIVEKIT_DATA``, else ``./data``).

    Raises:
        DataError: the file is missing, unreadable, malformed or too short; the message names it.
    """
    from divekit.optlab.airfoil import airfoil_path, load_airfoil

    path = airfoil_path(data_dir) if data == "airfoil" else Path(data)
    table = load_airfoil(path)
    if len(table) < AIRFOIL_ROWS:
        raise DataError(f"{path.resolve()}: expected at least {AIRFOIL_ROWS} rows (the book's runs use the "
                        f"first {AIRFOIL_ROWS}), got {len(table)}")
    return path, table


def compare(run_dir: Path, data: str | os.PathLike = "airfoil", data_dir: str | os.PathLike | None = None,
            seed: int = 0, dtype: str = "float32") -> dict:
    """The book's airfoil runs (GD, SGD, minibatch 10/100, then momentum ... Adam), lab and torch.optim."""
    import torch

    from divekit.optlab.airfoil import OPTIMIZER_RUNS, SGD_RUNS, compare_airfoil

    path, table = airfoil_table(data, data_dir)
    print(f"airfoil data: {path} ({table.shape[0]} rows x {table.shape[1]} columns; "
          f"first {AIRFOIL_ROWS} rows used)")
    pairs = compare_airfoil(table, dtype=getattr(torch, dtype), seed=seed)
    print(f"{'run':18s} {'hyperparameters':24s} {'batch':>5s} {'epochs':>6s} {'lab loss':>9s} "
          f"{'torch loss':>10s} {'max diff':>9s} {'lab s/epoch':>11s}")
    results = {}
    for label, (rule, hp, batch, epochs) in {**SGD_RUNS, **OPTIMIZER_RUNS}.items():
        lab, twin = pairs[label]["lab"], pairs[label]["torch"]
        diff = max(abs(a - b) for a, b in zip(lab.losses, twin.losses, strict=True))
        print(f"{label:18s} {_hp(hp):24s} {batch:5d} {epochs:6d} {lab.losses[-1]:9.4f} "
              f"{twin.losses[-1]:10.4f} {diff:9.1e} {lab.times[-1] / epochs:11.4f}")
        curves = {k: {"times": c.times, "losses": c.losses, "epochs": c.epochs}
                  for k, c in (("lab", lab), ("torch", twin))}
        results[label] = {"rule": rule, "hyperparams": hp, "batch_size": batch, "epochs": epochs,
                          "max_diff": diff, **curves}
    groups = {"GD vs SGD vs minibatch SGD": {k: pairs[k] for k in SGD_RUNS},
              "optimizers, batch 10": {k: pairs[k] for k in OPTIMIZER_RUNS}}
    _save(plot_loss_comparison(groups), run_dir, "compare.png")
    return _finish(run_dir, "compare", {"data": str(path), "seed": seed, "dtype": dtype}, results)
