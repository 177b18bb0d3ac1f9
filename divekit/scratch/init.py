"""Parameter initialisation from scratch (D2L §5.4, §6.3).

For a weight of torch layout (fan_out, fan_in, *kernel): ``fan_in = in * k``, ``fan_out = out * k`` with
``k`` the kernel size. Xavier keeps the variance of activations and gradients about constant through
depth by choosing ``Var[w] = 2 / (fan_in + fan_out)``; Kaiming (He) uses ``Var[w] = gain^2 / fan`` with
``gain^2 = 2`` for ReLU, which zeroes half of its inputs. Each function draws with the same random calls
as ``torch.nn.init``, so under the same seed the values are identical.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def fans(t: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight (out, in, *kernel); at least 2-D."""
    if t.dim() < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got shape {tuple(t.shape)}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def gain(nonlinearity: str, negative_slope: float = 0.01) -> float:
    """Factor that restores unit variance after the nonlinearity: 1 (linear, sigmoid), 5/3 (tanh),
    sqrt(2) (relu), sqrt(2 / (1 + slope^2)) (leaky_relu)."""
    table = {
        "linear": 1.0,
        "sigmoid": 1.0,
        "tanh": 5.0 / 3,
        "relu": math.sqrt(2.0),
        "leaky_relu": math.sqrt(2.0 / (1 + negative_slope**2)),
    }
    if nonlinearity not in table:
        raise ValueError(f"nonlinearity must be one of {sorted(table)}, got {nonlinearity!r}")
    return table[nonlinearity]


@torch.no_grad()
def normal_(t: Tensor, mean: float = 0.0, std: float = 0.01) -> Tensor:
    """Fill ``t`` in place with ``N(mean, std^2)`` draws (the book's default ``std = 0.01``)."""
    return t.normal_(mean, std)


@torch.no_grad()
def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill ``t`` in place with ``U(a, b)`` draws."""
    return t.uniform_(a, b)


@torch.no_grad()
def constant_(t: Tensor, value: float) -> Tensor:
    """Fill ``t`` with one value (a bad idea for weights: see ``symmetry_demo``)."""
    return t.fill_(value)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """``U(-a, a)``, ``a = gain sqrt(6 / (fan_in + fan_out))``, so ``Var = 2 gain^2 / (fan_in + fan_out)``."""
    fan_in, fan_out = fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """``N(0, sigma^2)`` with ``sigma = gain sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fans(t)[0 if mode == "fan_in" else 1]
    return gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """``U(-bound, bound)``, ``bound = sqrt(3) gain / sqrt(fan)``: same variance as ``kaiming_normal_``."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound)


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """``N(0, sigma^2)`` with ``sigma = gain / sqrt(fan)``; ``gain = sqrt(2)`` for ReLU (``a = 0``)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


@torch.no_grad()
def init_by_layer(m: nn.Module) -> None:
    """For ``net.apply``: Xavier-uniform ``nn.Linear``, Kaiming-normal (ReLU) ``nn.Conv2d``, zero biases."""
    if isinstance(m, nn.Linear):
        xavier_uniform_(m.weight)
    elif isinstance(m, nn.Conv2d):
        kaiming_normal_(m.weight, nonlinearity="relu")
    else:
        return
    if m.bias is not None:
        m.bias.zero_()


def symmetry_demo(
    value: float = 0.1, num_inputs: int = 4, num_hiddens: int = 5, steps: int = 20, lr: float = 0.1
) -> tuple[float, float]:
    """Train a one-hidden-layer MLP whose weights all start at ``value`` and measure symmetry.

    All hidden units compute the same function and get the same gradient, so they stay copies of each other:
    returns ``(spread, moved)``: the largest difference between any two hidden units' incoming weights after
    training (exactly 0) and how far the weights moved (clearly > 0, so training did happen).
    """
    W1 = torch.full((num_inputs, num_hiddens), value, dtype=torch.float64, requires_grad=True)
    W2 = torch.full((num_hiddens, 1), value, dtype=torch.float64, requires_grad=True)
    X = torch.randn(32, num_inputs, dtype=torch.float64)
    y = torch.sin(X.sum(1, keepdim=True))
    for _ in range(steps):
        loss = ((torch.tanh(X @ W1) @ W2 - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in (W1, W2):
                p -= lr * p.grad
                p.grad = None
    W1 = W1.detach()
    spread = float((W1 - W1[:, :1]).abs().max())
    moved = float((W1 - value).abs().max())
    return spread, moved


def activation_variances(
    init: str, depth: int = 20, width: int = 256, activation: str = "tanh", n: int = 512
) -> list[float]:
    """Variance of the activations after each of ``depth`` fully connected layers for unit-variance inputs.

    Args:
        init: ``"normal"`` (std 1, the naive choice), ``"small"`` (std 0.01), ``"xavier"`` or ``"kaiming"``.
        activation: ``"tanh"``, ``"relu"`` or ``"linear"``.

    Returns:
        ``depth`` variances; Xavier (tanh/linear) and Kaiming (ReLU) keep them of the same order, the others
        explode (or saturate) or vanish.
    """
    act = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda x: x}
    fills = {
        "normal": lambda W: normal_(W, 0.0, 1.0),
        "small": lambda W: normal_(W, 0.0, 0.01),
        "xavier": lambda W: xavier_normal_(W, gain=gain(activation if activation != "relu" else "linear")),
        "kaiming": lambda W: kaiming_normal_(W, nonlinearity="relu" if activation == "relu" else "linear"),
    }
    if init not in fills or activation not in act:
        raise ValueError(f"init must be one of {sorted(fills)} and activation one of {sorted(act)}")
    H = torch.randn(n, width)
    out = []
    for _ in range(depth):
        W = torch.empty(width, width)  # torch layout (out, in)
        fills[init](W)
        H = act[activation](H @ W.T)
        out.append(float(H.var()))
    return out
