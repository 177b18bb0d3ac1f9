"""Lessons: parameter initialisation (book §5.4) and optimizers from scratch vs ``torch.optim`` (ch. 12)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from divekit.report.plots import pyplot, save_figure
from divekit.scratch import init as ini
from divekit.scratch import optimizers as opt
from divekit.scratch.linear import data_iter, synthetic_data


def init(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Symmetry with equal weights, activation variance through depth, and ``net.apply(init_by_layer)``."""
    torch.manual_seed(seed)
    spread, moved = ini.symmetry_demo()
    print(
        f"all weights = 0.1, 20 SGD steps: hidden units' weights moved by up to {moved:.3f}, "
        f"yet differ from each other by {spread:.1e}: symmetry is never broken"
    )

    cases = {
        "tanh, N(0, 1)": ("normal", "tanh"),
        "tanh, N(0, 0.01^2)": ("small", "tanh"),
        "tanh, Xavier": ("xavier", "tanh"),
        "linear, N(0, 1)": ("normal", "linear"),
        "linear, Xavier": ("xavier", "linear"),
        "relu, Xavier": ("xavier", "relu"),
        "relu, Kaiming": ("kaiming", "relu"),
    }
    variances = {
        label: ini.activation_variances(i, depth=20, activation=a) for label, (i, a) in cases.items()
    }
    print("activation variance after layers 1, 5, 10, 20 (width 256, unit-variance input):")
    for label, v in variances.items():
        print(f"  {label:<20} " + "  ".join(f"{v[k]:9.2e}" for k in (0, 4, 9, 19)))
    print("  tanh saturates with N(0, 1) (|h| -> 1), tiny weights vanish, linear N(0, 1) explodes;")
    print("  Xavier (tanh, linear) and Kaiming (ReLU) keep the variance of the same order through depth")

    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 28 * 28, 10))
    net.apply(ini.init_by_layer)
    conv_std, lin_bound = float(net[0].weight.detach().std()), float(net[3].weight.detach().abs().max())
    print("net.apply(init_by_layer), biases zero:")
    print(f"  conv weight std {conv_std:.4f} (Kaiming sqrt(2 / 25) = {(2 / 25) ** 0.5:.4f})")
    print(f"  linear max |w| {lin_bound:.4f} (Xavier bound sqrt(6 / (4704 + 10)) = {(6 / 4714) ** 0.5:.4f})")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, v in variances.items():
        ax.semilogy(range(1, len(v) + 1), v, "o-", ms=3, label=label)
    ax.set(xlabel="layer", ylabel="variance of activations", title="variance through depth")
    ax.legend(fontsize=7)
    save_figure(fig, run_dir / "init-variance.png")
    return {"symmetry": {"spread": spread, "moved": moved}, "variances": variances}


def _regression_data(seed: int) -> tuple[Tensor, Tensor, str]:
    """The book's airfoil data (1500 rows, standardised) if ``$DIVEKIT_DATA`` has it, else synthetic data."""
    path = Path(os.environ.get("DIVEKIT_DATA", "")) / "d2l-misc" / "airfoil_self_noise.dat"
    if os.environ.get("DIVEKIT_DATA") and path.is_file():
        import numpy as np

        data = torch.from_numpy(np.loadtxt(path, dtype=np.float64)[:1500])
        data = (data - data.mean(0)) / data.std(0)
        return data[:, :-1], data[:, -1:], f"airfoil self-noise ({path})"
    g = torch.Generator().manual_seed(seed)
    X, y = synthetic_data(torch.tensor([2.0, -3.4, 1.0, 0.5, -1.0], dtype=torch.float64), 4.2, 1500, 1.0, g)
    return X, y, "synthetic (set DIVEKIT_DATA for the book's airfoil data)"


# the book's learning rates for minibatch 10 (ch. 12); the rest of each setting comes from opt.SETUPS
LESSON_LR = {
    "sgd": 0.005,
    "momentum": 0.005,
    "nesterov": 0.005,
    "adagrad": 0.1,
    "rmsprop": 0.01,
    "adadelta": 1.0,
    "adam": 0.01,
    "adamw": 0.01,
}


def optimizers(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Linear regression on the airfoil data, batch 10, with each scratch optimizer and its torch twin."""
    X, y, source = _regression_data(seed)
    print(
        f"data: {source}, {len(X)} examples, {X.shape[1]} features; linear model, batch 10, weight decay 1e-3"
    )
    results = {}
    for name in opt.SETUPS:
        torch.manual_seed(seed)
        init_w = torch.normal(0.0, 0.01, (X.shape[1], 1), dtype=torch.float64)
        ours = [init_w.clone().requires_grad_(True), torch.zeros(1, dtype=torch.float64, requires_grad=True)]
        theirs = [p.detach().clone().requires_grad_(True) for p in ours]
        mine, twin = opt.make_pair(name, ours, theirs, weight_decay=1e-3, lr=LESSON_LR[name])
        curve = []
        g = torch.Generator().manual_seed(seed)
        for _ in range(epochs or 2):
            for i, (Xb, yb) in enumerate(data_iter(10, X, y, generator=g)):
                for o, (w, b) in ((mine, ours), (twin, theirs)):
                    o.zero_grad()
                    ((Xb @ w + b - yb) ** 2 / 2).mean().backward()
                    o.step()
                if i % 15 == 0:
                    with torch.no_grad():
                        curve.append(float(((X @ ours[0] + ours[1] - y) ** 2 / 2).mean()))
        diff = max(float((a - b).detach().abs().max()) for a, b in zip(ours, theirs, strict=True))
        results[name] = {
            "lr": LESSON_LR[name],
            "final_loss": curve[-1],
            "max_diff_vs_torch": diff,
            "curve": curve,
        }
        print(f"{name:<9} lr {LESSON_LR[name]:<6} loss {curve[-1]:.4f}   max |ours - torch.optim| {diff:.1e}")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results.items():
        ax.plot([15 * 10 * k / len(X) for k in range(len(r["curve"]))], r["curve"], label=name)
    ax.set(
        xlabel="epoch",
        ylabel="loss",
        title="optimizers from scratch",
        ylim=(0.2, 0.5) if "airfoil" in source else None,
    )
    ax.legend(fontsize=8)
    save_figure(fig, run_dir / "optimizers.png")
    return {"data": source, "results": results}
