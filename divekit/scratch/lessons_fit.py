"""Lessons: linear regression, softmax regression, MLP and dropout (book chapters 3-5)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from divekit.report.plots import pyplot, save_figure
from divekit.scratch import linear
from divekit.scratch import softmax as sm
from divekit.scratch.dropout import dropout as dropout_fn
from divekit.scratch.mlp import ACTIVATIONS, MLP, relu_grad, sigmoid_grad, tanh_grad
from divekit.scratch.training import fashion_mnist, fit_fashion_mnist, logits_loss


def linreg(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §3.2: w = [2, -3.4], b = 4.2, 1000 examples, lr 0.03, batch 10, 3 epochs; then §3.3's twin."""
    epochs = epochs or 3
    g = torch.Generator().manual_seed(seed)
    true_w, true_b = torch.tensor([2.0, -3.4]), 4.2
    features, labels = linear.synthetic_data(true_w, true_b, 1000, generator=g)
    print(f"features: {features[0].tolist()}, label: {labels[0].item():.4f}")
    out = {}
    variants = (
        ("scratch", "linreg + squared_loss + sgd", linear.train_linreg),
        ("concise", "nn.Linear + MSELoss + optim.SGD", linear.train_linreg_concise),
    )
    for name, what, train in variants:
        print(f"-- {name}: {what}")
        w, b, losses = train(features, labels, lr=0.03, batch_size=10, num_epochs=epochs, generator=g)
        for epoch, loss in enumerate(losses, start=1):
            print(f"epoch {epoch}, loss {loss:f}")
        w_err, b_err = true_w - w.reshape(true_w.shape), true_b - float(b)
        print(f"learned w = {[round(v, 4) for v in w.reshape(-1).tolist()]}, b = {float(b):.4f}")
        print(f"error in estimating w: {w_err.tolist()}, error in estimating b: {b_err:.6f}")
        out[name] = {"losses": losses, "w": w.reshape(-1).tolist(), "b": float(b)}

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.scatter(features[:, 1], labels[:, 0], s=2)
    ax1.set(xlabel="second feature", ylabel="label", title="synthetic data (w2 = -3.4)")
    for name, res in out.items():
        ax2.semilogy(range(1, epochs + 1), res["losses"], "o-", label=name)
    ax2.set(xlabel="epoch", ylabel="training loss", title="loss per epoch")
    ax2.legend()
    save_figure(fig, run_dir / "linreg.png")
    return {"true_w": true_w.tolist(), "true_b": true_b, **out}


def softmax(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §4.4: softmax regression on Fashion-MNIST, lr 0.1, batch 256, 10 epochs (test acc. ~0.83-0.85)."""
    logits = torch.tensor([[100.0, 0.0, -100.0], [1000.0, 999.0, 0.0]])
    print(f"logits {logits.tolist()} (float32)")
    print(f"  naive softmax:  {sm.softmax_naive(logits).tolist()}   <- exp overflows: inf / inf = nan")
    print(
        f"  stable softmax: {[[round(v, 4) for v in r] for r in sm.softmax(logits).tolist()]}  (x - max(x))"
    )
    data = fashion_mnist()
    torch.manual_seed(seed)
    net = sm.SoftmaxRegression(784, 10)
    summary = fit_fashion_mnist(
        net, sm.cross_entropy, 0.1, epochs or 10, seed, run_dir, "softmax", "softmax regression", data
    )
    _save_predictions(net, *data[1], run_dir / "predictions.png")
    return summary


def _save_predictions(net: nn.Module, X: torch.Tensor, y: torch.Tensor, path: Path, n: int = 8) -> None:
    """Show the first ``n`` test images ``X`` with true labels ``y`` and the predictions (book §4.4.5)."""
    net.eval()
    with torch.no_grad():
        preds = net(X[:n]).argmax(dim=1)
    lines = [
        f"{sm.FASHION_MNIST_CLASSES[int(t)]} -> {sm.FASHION_MNIST_CLASSES[int(p)]}"
        for t, p in zip(y[:n], preds, strict=True)
    ]
    print("true -> predicted: " + "; ".join(lines))
    plt = pyplot()
    fig, axes = plt.subplots(1, n, figsize=(1.6 * n, 2.2))
    for ax, img, text in zip(axes, X[:n], lines, strict=True):
        ax.imshow(img[0].numpy(), cmap="gray")
        ax.set_title(text.replace(" -> ", "\n"), fontsize=7)
        ax.axis("off")
    save_figure(fig, path)


def mlp(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §5.2: MLP 784-256-10 with ReLU, W ~ N(0, 0.01^2), lr 0.1, batch 256, 10 epochs."""
    _plot_activations(run_dir / "activations.png")
    torch.manual_seed(seed)
    net = MLP(784, [256], 10, activation="relu", sigma=0.01)
    print("parameters: " + ", ".join(f"{n} {tuple(p.shape)}" for n, p in net.named_parameters()))
    return fit_fashion_mnist(net, logits_loss, 0.1, epochs or 10, seed, run_dir, "mlp", "MLP from scratch")


def _plot_activations(path: Path) -> None:
    """ReLU, sigmoid and tanh with their derivatives (book §5.1.2)."""
    x = torch.linspace(-8, 8, 401)
    grads = {"relu": relu_grad, "sigmoid": sigmoid_grad, "tanh": tanh_grad}
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for ax, (name, fn) in zip(axes, ACTIVATIONS.items(), strict=True):
        ax.plot(x, fn(x), label=name)
        ax.plot(x, grads[name](x), "--", label=f"{name}'")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    save_figure(fig, path)
    print("max derivatives: relu' = 1 for x > 0, sigmoid'(0) = 0.25, tanh'(0) = 1 (saved activations.png)")


def dropout(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §5.6: MLP 784-256-256-10 with dropout 0.2 and 0.5, lr 0.5, batch 256, 10 epochs."""
    torch.manual_seed(seed)
    X = torch.arange(16, dtype=torch.float32).reshape(2, 8)
    for p in (0.0, 0.5, 1.0):
        print(f"dropout(X, {p}) = {dropout_fn(X, p).tolist()}")
    ones = torch.ones(100_000)
    kept = {p: float((dropout_fn(ones, p) != 0).float().mean()) for p in (0.2, 0.5, 0.8)}
    print("kept fraction (expected 1 - p): " + ", ".join(f"p={p}: {k:.4f}" for p, k in kept.items()))
    torch.manual_seed(seed)
    net = MLP(784, [256, 256], 10, dropouts=[0.2, 0.5], activation="relu", sigma=0.01)
    summary = fit_fashion_mnist(
        net, logits_loss, 0.5, epochs or 10, seed, run_dir, "dropout", "MLP with dropout 0.2 / 0.5"
    )
    return {**summary, "kept_fraction": {str(p): k for p, k in kept.items()}}
