"""Multilayer perceptron from scratch (D2L §5.1-5.2, §5.6) and activation functions.

A layer computes ``H = phi(X W + b)`` with ``X`` (n, fan_in), ``W`` (fan_in, fan_out), ``b`` (fan_out,).
For one hidden layer: ``W1`` is inputs x hidden, ``b1`` (hidden,), ``W2`` hidden x outputs, ``b2`` (outputs,).
``nn.Linear`` stores the transpose, ``weight`` of shape (fan_out, fan_in): ``W1 = linear1.weight.T``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from divekit.scratch.dropout import dropout


def relu(X: Tensor) -> Tensor:
    """``max(x, 0)`` element-wise."""
    return torch.max(X, torch.zeros_like(X))


def relu_grad(X: Tensor) -> Tensor:
    """``d relu / dx = 1 if x > 0 else 0`` (0 at x = 0, as autograd does)."""
    return (X > 0).to(X.dtype)


def sigmoid(X: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))`` element-wise."""
    return 1.0 / (1.0 + torch.exp(-X))


def sigmoid_grad(X: Tensor) -> Tensor:
    """``d sigmoid / dx = sigmoid(x) (1 - sigmoid(x))``, largest (1/4) at 0."""
    s = sigmoid(X)
    return s * (1.0 - s)


def tanh(X: Tensor) -> Tensor:
    """``(1 - exp(-2x)) / (1 + exp(-2x))``, computed as ``2 sigmoid(2x) - 1``, which never gives inf/inf."""
    return 2.0 * sigmoid(2.0 * X) - 1.0


def tanh_grad(X: Tensor) -> Tensor:
    """``d tanh / dx = 1 - tanh(x)^2``, largest (1) at 0."""
    return 1.0 - tanh(X) ** 2


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}


class MLP(nn.Module):
    """Fully connected network on plain parameters ``W1, b1, W2, b2, ...`` (see the module docstring).

    Inputs are flattened to (n, num_inputs); each hidden layer applies the activation and then, in
    training mode, ``dropout`` with its own probability. The output is logits (n, num_outputs).

    Args:
        num_inputs: features per example after flattening (784 for 28x28 images).
        hiddens: widths of the hidden layers, e.g. ``[256]``.
        num_outputs: number of classes.
        dropouts: one drop probability per hidden layer (default: no dropout).
        activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
        sigma: standard deviation of the Gaussian initial weights; biases start at zero.
    """

    def __init__(
        self,
        num_inputs: int = 784,
        hiddens: Sequence[int] = (256,),
        num_outputs: int = 10,
        dropouts: Sequence[float] | None = None,
        activation: str = "relu",
        sigma: float = 0.01,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dropouts = list(dropouts) if dropouts is not None else [0.0] * len(hiddens)
        if len(self.dropouts) != len(hiddens):
            raise ValueError(
                f"dropouts needs one probability per hidden layer ({len(hiddens)}), got {dropouts}"
            )
        self.num_inputs = num_inputs
        self.activation = ACTIVATIONS[activation]
        sizes = [num_inputs, *hiddens, num_outputs]
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            self.register_parameter(f"W{k}", nn.Parameter(torch.randn(fan_in, fan_out) * sigma))
            self.register_parameter(f"b{k}", nn.Parameter(torch.zeros(fan_out)))
        self.num_layers = len(sizes) - 1

    def layer(self, k: int) -> tuple[Tensor, Tensor]:
        """Parameters ``(Wk, bk)`` of layer k (1-based), shapes (fan_in, fan_out) and (fan_out,)."""
        return getattr(self, f"W{k}"), getattr(self, f"b{k}")

    def forward(self, X: Tensor) -> Tensor:
        H = X.reshape(-1, self.num_inputs)
        for k in range(1, self.num_layers):
            W, b = self.layer(k)
            H = dropout(self.activation(H @ W + b), self.dropouts[k - 1], self.training)
        W, b = self.layer(self.num_layers)
        return H @ W + b

    @torch.no_grad()
    def copy_to_torch(self, net: nn.Sequential) -> nn.Sequential:
        """Copy the weights into the ``nn.Linear`` layers of ``net`` (in order), transposing each ``W``."""
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        if len(linears) != self.num_layers:
            raise ValueError(f"net has {len(linears)} nn.Linear layers, this MLP has {self.num_layers}")
        for k, lin in enumerate(linears, start=1):
            W, b = self.layer(k)
            lin.weight.copy_(W.T)
            lin.bias.copy_(b)
        return net
