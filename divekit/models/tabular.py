"""Models for tabular features ``x [B, D]`` (``in_shape = (D,)``): the book's linear model and an MLP."""

from __future__ import annotations

import math

from torch import nn

from divekit.models.registry import register
from divekit.models.simple import mlp


@register("linear", "linear regression: one nn.Linear on the features (d2l's house-prices baseline)", kind="tabular")
def linear(in_shape, num_classes=1):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), num_classes))


@register("tabular-mlp", "MLP for tabular features: [linear → ReLU → dropout]×k → linear; options hidden "
                         "(default 64), dropout (default 0.1)", kind="tabular")
def tabular_mlp(in_shape, num_classes=1, hidden: tuple[int, ...] | int = 64, dropout: float = 0.1):
    return mlp(in_shape, num_classes, hidden=hidden, dropout=dropout)
