"""Batch normalisation from scratch (D2L §8.5).

Training: ``y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta`` with the minibatch mean and (biased)
variance taken per feature for (n, c) inputs and per channel, over (n, h, w), for (n, c, h, w) inputs.
The moving averages ``m <- (1 - momentum) m + momentum * stat`` are used instead at prediction time.
Like ``nn.BatchNorm``, the moving variance is fed with the *unbiased* batch variance (times k / (k - 1)
for k values per feature) while the normalisation itself uses the biased one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def batch_norm(
    X: Tensor,
    gamma: Tensor,
    beta: Tensor,
    moving_mean: Tensor,
    moving_var: Tensor,
    eps: float = 1e-5,
    momentum: float = 0.1,
    training: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """Normalise ``X`` and return ``(Y, new_moving_mean, new_moving_var)``.

    Args:
        X: (n, c) for fully connected layers or (n, c, h, w) for convolutions.
        gamma, beta: learnable scale and shift, shape (1, c) or (1, c, 1, 1).
        moving_mean, moving_var: running statistics, same shape as ``gamma``.
        eps: added to the variance before the square root.
        momentum: weight of the new batch statistic in the moving averages (torch's convention;
            the book writes the same update with ``0.9 = 1 - momentum`` on the old value).
        training: use batch statistics and update the moving ones; else use the moving ones.
    """
    if X.dim() not in (2, 4):
        raise ValueError(f"batch_norm expects X of shape (n, c) or (n, c, h, w), got {tuple(X.shape)}")
    if not training:
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        return gamma * X_hat + beta, moving_mean, moving_var
    dims = (0,) if X.dim() == 2 else (0, 2, 3)
    count = X.numel() // X.shape[1]
    if count < 2:
        raise ValueError(
            f"batch_norm in training mode needs more than one value per channel, got {tuple(X.shape)}"
        )
    mean = X.mean(dim=dims, keepdim=True)
    var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)
    X_hat = (X - mean) / torch.sqrt(var + eps)
    with torch.no_grad():
        new_mean = (1.0 - momentum) * moving_mean + momentum * mean
        new_var = (1.0 - momentum) * moving_var + momentum * var * count / (count - 1)
    return gamma * X_hat + beta, new_mean, new_var


class BatchNorm(nn.Module):
    """Batch-norm layer with learnable ``gamma`` (ones) and ``beta`` (zeros) and moving statistics.

    Args:
        num_features: c, outputs of a fully connected layer or channels of a convolution.
        num_dims: 2 for (n, c) inputs, 4 for (n, c, h, w) inputs.
        eps, momentum: as in ``batch_norm`` (same defaults as ``nn.BatchNorm1d/2d``).
    """

    def __init__(
        self, num_features: int, num_dims: int = 2, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        if num_dims not in (2, 4):
            raise ValueError(f"num_dims must be 2 (fully connected) or 4 (convolutional), got {num_dims}")
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.eps, self.momentum, self.num_dims = eps, momentum, num_dims
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.register_buffer("moving_mean", torch.zeros(shape))
        self.register_buffer("moving_var", torch.ones(shape))

    def forward(self, X: Tensor) -> Tensor:
        if X.dim() != self.num_dims:
            raise ValueError(f"BatchNorm(num_dims={self.num_dims}) got input of shape {tuple(X.shape)}")
        Y, self.moving_mean, self.moving_var = batch_norm(
            X,
            self.gamma,
            self.beta,
            self.moving_mean,
            self.moving_var,
            self.eps,
            self.momentum,
            self.training,
        )
        return Y
