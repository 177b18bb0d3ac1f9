"""Lesson: under- and over-fitting with polynomial regression (book §4.4, "Model Selection, Underfitting,
and Overfitting").

Data: ``x ~ N(0, 1)``, features ``x^i / i!`` for ``i = 0..19`` (the factorial keeps large powers from
exploding), labels ``y = 5 + 1.2x - 3.4x²/2! + 5.6x³/3! + ε`` with ``ε ~ N(0, 0.1²)``; 100 training and
100 validation examples. The same linear model (no bias) is fitted on the first 4 features (the right
model), the first 2 (too simple: underfitting) and all 20 (too flexible: overfitting), and, to make the
effect plain, on all 20 features with only 10 training examples.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from divekit.report.overfitting import overfitting_sentence
from divekit.report.plots import pyplot, save_figure

MAX_DEGREE = 20
TRUE_W = (5.0, 1.2, -3.4, 5.6)
# name -> (what it shows, features used, training examples, the book's epochs)
VARIANTS: dict[str, tuple[str, int, int, int]] = {
    "normal": ("third-order polynomial: the right model", 4, 100, 400),
    "underfit": ("linear function: too simple", 2, 100, 400),
    "overfit": ("degree-19 polynomial: too flexible", 20, 100, 1500),
    "overfit-10": ("degree-19 polynomial, 10 training examples", 20, 10, 1500),
}


def poly_data(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(features [n, 20], labels [n])``: ``x^i / i!`` of ``x ~ N(0, 1)``, labels from ``TRUE_W`` plus noise."""
    x = torch.randn(n, 1, generator=generator)
    powers = torch.arange(MAX_DEGREE)
    factorials = torch.tensor([math.gamma(i + 1) for i in range(MAX_DEGREE)])
    features = x ** powers / factorials
    true_w = torch.zeros(MAX_DEGREE)
    true_w[: len(TRUE_W)] = torch.tensor(TRUE_W)
    labels = features @ true_w + 0.1 * torch.randn(n, generator=generator)
    return features, labels


def train_poly(x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor, y_valid: torch.Tensor,
               epochs: int, generator: torch.Generator, lr: float = 0.01) -> tuple[torch.Tensor, list[dict]]:
    """The book's ``train``: ``nn.Linear(d, 1, bias=False)`` (weights start at N(0, 0.01²)), minibatch SGD
    (batch ``min(10, n)``, lr 0.01), squared loss. Returns the weights and one ``{epoch, train_loss,
    valid_loss}`` row per epoch."""
    net = nn.Linear(x_train.shape[1], 1, bias=False)
    nn.init.normal_(net.weight, std=0.01, generator=generator)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    batch = min(10, len(y_train))
    history = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            loss = nn.functional.mse_loss(net(x_train[idx]).squeeze(1), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            history.append({"epoch": epoch,
                            "train_loss": nn.functional.mse_loss(net(x_train).squeeze(1), y_train).item(),
                            "valid_loss": nn.functional.mse_loss(net(x_valid).squeeze(1), y_valid).item()})
    return net.weight.detach().flatten(), history


def overfit(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Fit the four variants, print final losses, weights and a sentence on the gap; plot train vs validation."""
    g = torch.Generator().manual_seed(seed)
    x, y = poly_data(200, g)
    x_train, y_train, x_valid, y_valid = x[:100], y[:100], x[100:], y[100:]
    print(f"true weights: {list(TRUE_W)} (then zeros up to degree {MAX_DEGREE - 1})")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(VARIANTS), figsize=(4 * len(VARIANTS), 3.4), sharey=True)
    out = {}
    for ax, (name, (what, d, n, book_epochs)) in zip(axes, VARIANTS.items(), strict=True):
        w, history = train_poly(x_train[:n, :d], y_train[:n], x_valid[:, :d], y_valid, epochs or book_epochs, g)
        last = history[-1]
        sentence = overfitting_sentence(history)
        print(f"-- {name}: {what} ({d} features, {n} training examples, {len(history)} epochs)")
        print(f"   train loss {last['train_loss']:.4f}  valid loss {last['valid_loss']:.4f}")
        print(f"   weights {[round(v, 3) for v in w[:6].tolist()]}{' …' if d > 6 else ''}")
        print(f"   {sentence}")
        out[name] = {"features": d, "train_examples": n, "epochs": len(history), "weights": w.tolist(),
                     "train_loss": last["train_loss"], "valid_loss": last["valid_loss"], "overfitting": sentence}
        epochs_axis = [r["epoch"] for r in history]
        ax.semilogy(epochs_axis, [r["train_loss"] for r in history], label="train")
        ax.semilogy(epochs_axis, [r["valid_loss"] for r in history], "--", label="valid")
        ax.set(xlabel="epoch", title=f"{name}: {d} features, n={n}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("squared loss")
    axes[0].legend()
    save_figure(fig, run_dir / "overfit.png")
    return {"true_w": list(TRUE_W), **out}
