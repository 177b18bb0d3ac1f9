"""The small models of the foundation: softmax regression, MLP, LeNet (book and BN) and the fast CNN."""

from __future__ import annotations

import math

import torch
from torch import nn

from divekit.models.registry import register


def _flat(in_shape: tuple[int, ...]) -> int:
    return math.prod(in_shape)


def flat_features(body: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Number of features ``body`` outputs per example, found with a dummy forward in eval mode
    (so batch-norm running statistics are left untouched)."""
    was_training = body.training
    with torch.no_grad():
        n = body.eval()(torch.zeros(1, *in_shape)).flatten(1).shape[1]
    body.train(was_training)
    return n


@register("softmax", "softmax regression: flatten → linear (the book's concise version)")
def softmax_regression(in_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(_flat(in_shape), num_classes))


@register("mlp", "multilayer perceptron: flatten → [linear → ReLU (→ dropout)]×k → linear")
def mlp(in_shape, num_classes, hidden: tuple[int, ...] | int = 256, dropout: float = 0.0):
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    layers: list[nn.Module] = [nn.Flatten()]
    width = _flat(in_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def _lenet(in_shape, num_classes, bn: bool):
    c = in_shape[0]
    act = nn.Sigmoid

    def norm(n, dims):
        return [nn.BatchNorm2d(n) if dims == 2 else nn.BatchNorm1d(n)] if bn else []

    features = nn.Sequential(
        nn.Conv2d(c, 6, kernel_size=5, padding=2), *norm(6, 2), act(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), *norm(16, 2), act(), nn.AvgPool2d(2, stride=2), nn.Flatten())
    n = flat_features(features, in_shape)
    return nn.Sequential(*features, nn.Linear(n, 120), *norm(120, 1), act(),
                         nn.Linear(120, 84), *norm(84, 1), act(), nn.Linear(84, num_classes))


def xavier_init(model: nn.Module) -> nn.Module:
    """Xavier-uniform weights for every conv and linear layer, as the book's ``train_ch6`` does."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return model


@register("lenet", "the book's LeNet-5: sigmoid, average pooling, Xavier init (d2l chapter 6.6)")
def lenet(in_shape, num_classes):
    return xavier_init(_lenet(in_shape, num_classes, bn=False))


@register("lenet-bn", "LeNet with batch norm after every conv/linear layer (d2l chapter 7.5)")
def lenet_bn(in_shape, num_classes):
    return _lenet(in_shape, num_classes, bn=True)


class PixelUnshuffle(nn.Module):
    """Space-to-depth: ``[B, C, H, W] → [B, C·r², H/r, W/r]``, a free re-layout that lets the first
    convolution run at a quarter of the resolution with four times the channels."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pixel_unshuffle(x, self.factor)


def conv_pool_bn(cin: int, cout: int, kernel: int = 3, pool: bool = True) -> list[nn.Module]:
    """conv → (max-pool) → batch norm → ReLU. Pooling before BN/ReLU gives the same kind of features
    (max-pool commutes with ReLU) at a quarter of the element-wise work."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers + [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register("fastcnn", "the default: a small BN-CNN tuned for speed on a CPU (space-to-depth stem, pool-first)")
def fastcnn(in_shape, num_classes, width: float = 1.0):
    c, h, w = in_shape
    c1, c2, c3 = (max(8, round(k * width)) for k in (32, 64, 128))
    stem = [PixelUnshuffle(2)] if h % 2 == 0 and w % 2 == 0 else []
    c0 = c * 4 if stem else c
    body = nn.Sequential(*stem, *conv_pool_bn(c0, c1), *conv_pool_bn(c1, c2), *conv_pool_bn(c2, c3, 1, pool=False))
    n = flat_features(body, in_shape)
    return nn.Sequential(*body, nn.Flatten(), nn.Linear(n, num_classes))
