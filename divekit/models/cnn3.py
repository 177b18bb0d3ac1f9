"""The nets grown for the ``fmnist-93`` recipe (a few minutes of CPU training).

``cnn3`` (the recipe's net)::

    [B, C, 28, 28] ─conv·pool→ c1 @14×14 ─conv·pool→ c2 @7×7 ─conv·pool→ c3 @3×3 ─flatten→ linear → [B, classes]

``fast93`` (a space-to-depth variant, for comparison)::

    [B, C, 28, 28] ─PixelUnshuffle(2)→ [B, 4C, 14, 14] ─conv·pool→ c1 @7×7 ─(residual block)×blocks
      ─conv·pool→ c2 @3×3 ─conv (last_kernel)→ c3 @3×3 ─flatten→ linear → [B, classes]

Each ``conv·pool`` is conv → max-pool → BN → ReLU (``conv_pool_bn``, as in ``fastcnn``); a residual block is
``x + relu(bn(conv(relu(bn(conv(x))))))`` at 7×7, where extra depth is cheap (D. Page's fast CIFAR-10
ResNet puts its residual blocks right after pooling too).
"""

from __future__ import annotations

import torch
from torch import nn

from divekit.models.registry import register
from divekit.models.simple import PixelUnshuffle, WhiteningConv2d, conv_pool_bn, flat_features


class Residual(nn.Module):
    """``x + f(x)`` with ``f`` two 3×3 conv → BN → ReLU layers of ``channels`` channels (shape kept)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_pool_bn(channels, channels, pool=False),
                                  *conv_pool_bn(channels, channels, pool=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("fast93", "fastcnn grown for the fmnist-93 recipe: space-to-depth stem, 1.5× width, optional residual blocks")
def fast93(in_shape, num_classes, width: float = 1.0, channels: tuple[int, int, int] | list[int] = (48, 96, 192),
           blocks: int = 0, last_kernel: int = 1, whiten: bool = False, ceil: bool = False):
    """Build the net for inputs ``in_shape = (C, H, W)``; ``width`` multiplies ``channels`` (c1, c2, c3);
    ``blocks`` residual blocks of c1 channels after the first pooling; ``last_kernel``: the last conv's size;
    ``whiten``: a frozen whitening first conv (as in ``fastcnn``); ``ceil``: the second pooling keeps odd
    sides' last row/column (7×7 → 4×4 instead of 3×3)."""
    c, h, w = in_shape
    c1, c2, c3 = (max(8, round(k * width)) for k in channels)
    stem = [PixelUnshuffle(2)] if h % 2 == 0 and w % 2 == 0 else []
    c0 = c * 4 if stem else c
    first = WhiteningConv2d(c0, c1) if whiten else None
    body = nn.Sequential(*stem, *conv_pool_bn(c0, c1, conv=first), *(Residual(c1) for _ in range(blocks)),
                         *conv_pool_bn(c1, c2, ceil=ceil), *conv_pool_bn(c2, c3, last_kernel, pool=False))
    return nn.Sequential(*body, nn.Flatten(), nn.Linear(flat_features(body, in_shape), num_classes))


@register("cnn3", "three conv·pool blocks at full resolution (28, 14, 7 px), flatten → linear: the fmnist-93 net")
def cnn3(in_shape, num_classes, channels: tuple[int, int, int] | list[int] = (16, 48, 96), width: float = 1.0,
         ceil: bool = False):
    """Build ``[B, C, H, W] → conv·pool (c1) → conv·pool (c2) → conv·pool (c3) → flatten → linear`` for
    ``in_shape = (C, H, W)``: every ``conv·pool`` a 3×3 conv → 2×2 max-pool → BN → ReLU (``conv_pool_bn``),
    the first at the input's full resolution; ``width`` multiplies ``channels``; ``ceil``: the last pooling keeps
    odd sides' last row/column (7×7 → 4×4 instead of 3×3).

    Where ``fast93``'s space-to-depth stem halves the image first, this net keeps a thin first layer at full
    resolution (most multiply-adds are still at 14×14 and 7×7); on the validation split it learned more per
    second of CPU (docs/benchmarks.md, "How the recipes were chosen")."""
    c1, c2, c3 = (max(4, round(k * width)) for k in channels)
    body = nn.Sequential(*conv_pool_bn(in_shape[0], c1), *conv_pool_bn(c1, c2),
                         *conv_pool_bn(c2, c3, ceil=ceil))
    return nn.Sequential(*body, nn.Flatten(), nn.Linear(flat_features(body, in_shape), num_classes))
