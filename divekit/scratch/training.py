"""A small classification training loop shared by the lessons (book §3.6, ``train_ch3``).

The network returns either probabilities (scratch softmax regression) or logits; the loss function is
per-example, is summed before ``backward`` and the updater divides by the batch size, as in ``sgd``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from divekit.scratch.linear import data_iter, sgd
from divekit.scratch.losses import cross_entropy
from divekit.scratch.softmax import accuracy, load_fashion_mnist_tensors


def evaluate_accuracy(net: nn.Module, X: Tensor, y: Tensor, batch_size: int = 2048) -> float:
    """Fraction of ``X`` (n, ...) classified as ``y`` (n,), in eval mode and without gradients."""
    was_training = net.training
    net.eval()
    correct = 0.0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            correct += accuracy(net(X[i : i + batch_size]), y[i : i + batch_size])
    net.train(was_training)
    return correct / len(X)


def train_epoch(
    net: nn.Module,
    loss: Callable[[Tensor, Tensor], Tensor],
    updater: Callable[[int], None],
    X: Tensor,
    y: Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """One pass over shuffled minibatches; returns (mean training loss, training accuracy)."""
    net.train()
    total_loss = total_correct = 0.0
    for Xb, yb in data_iter(batch_size, X, y, generator=generator):
        y_hat = net(Xb)
        l = loss(y_hat, yb)
        l.sum().backward()
        updater(len(Xb))
        total_loss += float(l.detach().sum())
        total_correct += accuracy(y_hat.detach(), yb)
    return total_loss / len(X), total_correct / len(X)


def train_classifier(
    net: nn.Module,
    loss: Callable[[Tensor, Tensor], Tensor],
    updater: Callable[[int], None],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    num_epochs: int,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    log: Callable[[str], None] | None = print,
) -> list[dict[str, float]]:
    """Train for ``num_epochs``; returns one ``{epoch, loss, train_acc, test_acc}`` dict per epoch.

    Args:
        net: model mapping (B, ...) inputs to (B, q) scores.
        loss: per-example loss ``(y_hat, y) -> (B,)``.
        updater: called with the batch size after ``backward``; must step and zero the gradients.
        train, test: ``(X, y)`` pairs of tensors.
        log: where each epoch's line goes (``None``: silent).
    """
    history = []
    for epoch in range(1, num_epochs + 1):
        train_loss, train_acc = train_epoch(net, loss, updater, *train, batch_size, generator)
        test_acc = evaluate_accuracy(net, *test)
        history.append({"epoch": epoch, "loss": train_loss, "train_acc": train_acc, "test_acc": test_acc})
        if log:
            log(
                f"epoch {epoch:2d}: loss {train_loss:.4f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}"
            )
    return history


def plot_history(history: list[dict[str, float]], title: str):
    """A figure of loss and accuracies per epoch (the book's ``Animator`` picture, drawn once)."""
    from divekit.report.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [h["epoch"] for h in history]
    for key, style in (("loss", "-"), ("train_acc", "--"), ("test_acc", "-.")):
        ax.plot(epochs, [h[key] for h in history], style, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def logits_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Per-example cross-entropy from logits (n, q) and labels (n,) -> (n,), via a stable log-sum-exp."""
    return cross_entropy(logits, y, reduction="none")


def fashion_mnist() -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``(train, test)`` Fashion-MNIST tensors (see ``load_fashion_mnist_tensors``)."""
    print("loading Fashion-MNIST ...")
    return load_fashion_mnist_tensors("train"), load_fashion_mnist_tensors("test")


def fit_fashion_mnist(
    net: nn.Module,
    loss,
    lr: float,
    epochs: int,
    seed: int,
    run_dir: Path,
    name: str,
    title: str,
    data: tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
) -> dict:
    """Train ``net`` on Fashion-MNIST with scratch ``sgd`` (batch 256), save ``run_dir/<name>.png``.

    ``data`` is ``(train, test)`` as from ``fashion_mnist()``, loaded here when None.

    Returns:
        ``{lr, epochs, history, test_acc}``.
    """
    from divekit.report.plots import save_figure

    train, test = data if data is not None else fashion_mnist()
    params = list(net.parameters())
    history = train_classifier(
        net,
        loss,
        lambda bs: sgd(params, lr, bs),
        train,
        test,
        epochs,
        batch_size=256,
        generator=torch.Generator().manual_seed(seed),
    )
    save_figure(plot_history(history, title), run_dir / f"{name}.png")
    print(f"final test accuracy {history[-1]['test_acc']:.3f}")
    return {"lr": lr, "epochs": epochs, "history": history, "test_acc": history[-1]["test_acc"]}
