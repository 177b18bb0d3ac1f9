"""The building blocks of the book's modern CNNs, with the book's (d2l, PyTorch) signatures.

``vgg_block``, ``nin_block``, ``Inception``, ``Residual``, ``conv_block``, ``DenseBlock`` and
``transition_block`` are the pieces of chapters "Modern Convolutional Neural Networks"; the zoo
(``divekit.models.zoo``) assembles them into whole networks. Shapes are ``[B, C, H, W]`` throughout.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from divekit.errors import ConfigError


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """``num_convs`` × (3×3 conv, padding 1, ReLU), then a 2×2 max-pool: ``[B, in, H, W] -> [B, out, H/2, W/2]``."""
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def nin_block(in_channels: int, out_channels: int, kernel_size: int, strides: int, padding: int) -> nn.Sequential:
    """One NiN block: a ``kernel_size`` conv then two 1×1 convs (per-pixel MLP), each followed by ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


class Inception(nn.Module):
    """GoogLeNet's Inception block: four parallel paths concatenated on the channel axis.

    Paths: 1×1 conv (``c1``); 1×1 then 3×3 conv (``c2 = (reduce, out)``); 1×1 then 5×5 conv
    (``c3 = (reduce, out)``); 3×3 max-pool then 1×1 conv (``c4``). Spatial size is kept, so
    ``[B, in_channels, H, W] -> [B, c1 + c2[1] + c3[1] + c4, H, W]``.
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


class Residual(nn.Module):
    """ResNet's basic residual block: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Args:
        input_channels, num_channels: channels in and out.
        use_1x1conv: project the shortcut with a strided 1×1 conv (needed when channels or size change).
        strides: stride of the first 3×3 conv (2 halves ``H`` and ``W``).
        bias: give the convolutions biases (the book does; torchvision does not, as batch norm follows).
        bn_shortcut: batch-normalise the projected shortcut (torchvision's layout).
    """

    def __init__(self, input_channels: int, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 *, bias: bool = True, bn_shortcut: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides, bias=bias)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, bias=bias)
        self.conv3 = (nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides, bias=bias)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.bn3 = nn.BatchNorm2d(num_channels) if use_1x1conv and bn_shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
            if self.bn3 is not None:
                x = self.bn3(x)
        return F.relu(y + x)


def resnet_block(input_channels: int, num_channels: int, num_residuals: int, first_block: bool = False,
                 **residual_options) -> nn.Sequential:
    """``num_residuals`` residual blocks; unless ``first_block``, the first one halves the size and
    projects to ``num_channels`` (a ``first_block`` needs ``input_channels == num_channels``).

    ``residual_options`` go to every ``Residual`` (``bias``, ``bn_shortcut``). The book returns a list;
    an ``nn.Sequential`` unpacks the same way (``nn.Sequential(*resnet_block(...))``).
    """
    if first_block and input_channels != num_channels:
        raise ConfigError(f"a first_block keeps the channels: input_channels ({input_channels}) must equal "
                         f"num_channels ({num_channels})")
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2, **residual_options))
        else:
            blk.append(Residual(num_channels, num_channels, **residual_options))
    return nn.Sequential(*blk)


def conv_block(input_channels: int, num_channels: int) -> nn.Sequential:
    """DenseNet's pre-activation conv: batch norm, ReLU, 3×3 conv (padding 1) to ``num_channels``."""
    return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                         nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks, each seeing the concatenation of the input and all earlier outputs.

    Every conv block adds ``num_channels`` (the growth rate) channels, so
    ``[B, C, H, W] -> [B, C + num_convs * num_channels, H, W]`` (e.g. 2 convs of 10 on 3 channels: 23).
    """

    def __init__(self, num_convs: int, input_channels: int, num_channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(*(conv_block(num_channels * i + input_channels, num_channels)
                                   for i in range(num_convs)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            x = torch.cat((x, blk(x)), dim=1)
        return x


def transition_block(input_channels: int, num_channels: int) -> nn.Sequential:
    """DenseNet's transition: batch norm, ReLU, 1×1 conv to ``num_channels``, 2×2 average pool (halves H, W)."""
    return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                         nn.Conv2d(input_channels, num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))
