"""Linear regression from scratch (D2L §3.2) and its concise twin with ``torch.nn`` (§3.3).

Model: ``y_hat = X w + b`` with ``X`` of shape (n, d), ``w`` (d, 1), ``b`` (1,).
Loss: ``l = (y_hat - y)^2 / 2`` per example. Update: ``p <- p - lr / B * sum_batch grad l``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import Tensor


def synthetic_data(
    w: Tensor | Sequence[float],
    b: float,
    num_examples: int,
    noise: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw a linear-regression data set ``y = X w + b + eps``.

    ``X ~ N(0, 1)`` of shape (n, d) and ``eps ~ N(0, noise^2)``.

    Args:
        w: true weights, shape (d,).
        b: true bias.
        num_examples: n, the number of rows.
        noise: standard deviation of the additive Gaussian noise.
        generator: optional random generator, for reproducible data.

    Returns:
        ``(X, y)`` with shapes (n, d) and (n, 1), dtype of ``w`` (float32 for a list).
    """
    w = torch.as_tensor(w, dtype=torch.get_default_dtype() if not isinstance(w, Tensor) else None)
    if w.dim() != 1:
        raise ValueError(f"w must be a 1-D tensor of weights, got shape {tuple(w.shape)}")
    if num_examples < 1:
        raise ValueError(f"num_examples must be >= 1, got {num_examples}")
    X = torch.normal(0.0, 1.0, (num_examples, len(w)), generator=generator, dtype=w.dtype)
    y = torch.mv(X, w) + b
    y = y + torch.normal(0.0, noise, y.shape, generator=generator, dtype=w.dtype)
    return X, y.reshape(-1, 1)


def data_iter(
    batch_size: int,
    features: Tensor,
    labels: Tensor,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield minibatches ``(X_batch, y_batch)`` in a random order, picked with ``index_select``.

    Every example appears exactly once per pass; the last batch may be smaller.

    Args:
        batch_size: B, rows per batch.
        features: (n, ...) tensor.
        labels: (n, ...) tensor with the same first dimension.
        shuffle: visit rows in a random permutation (else in order).
        generator: optional random generator for the permutation.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(features)
    if len(labels) != n:
        raise ValueError(f"features has {n} rows but labels has {len(labels)}")
    indices = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        j = indices[i : i + batch_size]
        yield features.index_select(0, j), labels.index_select(0, j)


def linreg(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Linear model ``X w + b``: (n, d) @ (d, 1) + (1,) -> (n, 1)."""
    return torch.mm(X, w) + b


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    """Per-example squared loss ``(y_hat - y)^2 / 2``, shape of ``y_hat`` (no reduction)."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params: Iterable[Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD, in place: ``p <- p - lr * p.grad / B``, then zero the gradients.

    The gradient is divided by ``batch_size`` because the losses are summed, not averaged,
    before ``backward``; this keeps the step size independent of the batch size.
    """
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad / batch_size
            p.grad.zero_()


def train_linreg(
    features: Tensor,
    labels: Tensor,
    lr: float = 0.03,
    batch_size: int = 10,
    num_epochs: int = 3,
    generator: torch.Generator | None = None,
    init: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, list[float]]:
    """Fit ``linreg`` with ``squared_loss`` and ``sgd`` (book §3.2.7).

    Args:
        features: (n, d) inputs. labels: (n, 1) targets.
        lr, batch_size, num_epochs: the book's 0.03, 10 and 3 by default.
        generator: random generator for the initial weights and the batch order.
        init: optional initial ``(w, b)`` of shapes (d, 1) and (1,), copied;
            default ``w ~ N(0, 0.01^2)``, ``b = 0``.

    Returns:
        ``(w, b, losses)``: learned (d, 1) and (1,) tensors (detached) and the mean training loss
        after each epoch.
    """
    d = features.shape[1]
    if init is None:
        w = torch.normal(0.0, 0.01, (d, 1), generator=generator, dtype=features.dtype)
        b = torch.zeros(1, dtype=features.dtype)
    else:
        w, b = (t.detach().clone() for t in init)
    w.requires_grad_(True)
    b.requires_grad_(True)
    losses = []
    for _ in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels, generator=generator):
            squared_loss(linreg(X, w, b), y).sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            losses.append(float(squared_loss(linreg(features, w, b), labels).mean()))
    return w.detach(), b.detach(), losses


def train_linreg_concise(
    features: Tensor,
    labels: Tensor,
    lr: float = 0.03,
    batch_size: int = 10,
    num_epochs: int = 3,
    generator: torch.Generator | None = None,
    init: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, list[float]]:
    """The concise twin: ``nn.Linear`` + ``nn.MSELoss`` + ``torch.optim.SGD`` (book §3.3).

    ``nn.MSELoss`` averages ``(y_hat - y)^2`` without the 1/2, so its gradient is twice that of
    ``squared_loss(...).sum() / B``: this twin with ``lr`` takes the same steps as ``train_linreg``
    with ``2 lr``.

    Returns:
        ``(w, b, losses)`` as in ``train_linreg`` (``w`` as a (d, 1) column; losses reported as ``MSE / 2``).
    """
    from torch import nn

    d = features.shape[1]
    net = nn.Linear(d, 1).to(features.dtype)
    with torch.no_grad():
        if init is None:
            net.weight.normal_(0.0, 0.01, generator=generator)
            net.bias.zero_()
        else:
            net.weight.copy_(init[0].reshape(1, d))
            net.bias.copy_(init[1].reshape(1))
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels, generator=generator):
            trainer.zero_grad()
            loss(net(X), y).backward()
            trainer.step()
        with torch.no_grad():
            losses.append(float(loss(net(features), labels)) / 2)
    return net.weight.detach().reshape(d, 1).clone(), net.bias.detach().clone(), losses
