"""The book's modern CNNs, buildable by name: AlexNet, VGG, NiN, GoogLeNet, ResNet-18/34, DenseNet.

Every builder takes ``(in_shape=(C, H, W), num_classes, **options)`` and a ``width`` option, a
channel-width multiplier (``width=0.25`` keeps a quarter of every hidden width, about 1/16 of the
MACs), so the big networks train on a CPU. The layouts follow the book (d2l, PyTorch edition), so
its shapes hold layer by layer; ``resnet18``/``resnet34`` also have torchvision's layout
(``variant="torchvision"``). Networks built for 224 px ImageNet images need Fashion-MNIST resized on
the batch tensor (``TensorLoader(resize=(96, 96))``); ``SUGGESTED`` gives a size and width per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from divekit.errors import ConfigError
from divekit.models.blocks import DenseBlock, Inception, nin_block, resnet_block, transition_block, vgg_block
from divekit.models.registry import register

# (input side in px, width) that makes each model quick enough to train on Fashion-MNIST on a CPU
SUGGESTED: dict[str, tuple[int, float]] = {
    "alexnet": (96, 0.25), "vgg": (64, 0.25), "vgg11": (64, 0.25), "nin": (96, 0.25), "googlenet": (64, 0.25),
    "resnet18": (64, 0.25), "resnet34": (64, 0.25), "densenet": (64, 0.5),
}

VGG_ARCHS: dict[int, tuple[tuple[int, int], ...]] = {  # depth -> (convs, channels) per block
    11: ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    13: ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    16: ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    19: ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}

# GoogLeNet's Inception blocks (c1, (c2 reduce, c2), (c3 reduce, c3), c4), grouped as the book's b3, b4, b5
GOOGLENET_STAGES = (
    ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)),
    ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
     (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)),
    ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)),
)

RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def scaled(channels: int, width: float) -> int:
    """``round(channels * width)``, at least 1: the width of one layer under a width multiplier."""
    return max(1, round(channels * width))


def zoo_model(name: str, description: str) -> Callable:
    """``register`` for an image model of the zoo, with the input side it trains well at (``SUGGESTED``)."""
    return register(name, description, suggested_side=SUGGESTED[name][0])


def _choice(name: str, option: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: {option} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


# layers that keep the shape of what they are given
_SHAPE_KEEPING = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.BatchNorm2d, nn.Identity)


def _window_out(side: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """Output side of a conv or pool window over ``side`` pixels (torch's formula, ceil mode included)."""
    span = side + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= side + padding:  # the last window must start inside the image
        out -= 1
    return out


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, tuple | list) else (v, v)


def _feature_shape(m: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape one image of ``shape`` has after ``m``, worked out from the layers' settings; ``None`` for a
    layer this walk does not know. Raises ``RuntimeError`` (as torch would) when a side shrinks below one."""
    if type(m) is nn.Sequential:
        for child in m:
            if (shape := _feature_shape(child, shape)) is None:
                return None
        return shape
    if isinstance(m, _SHAPE_KEEPING):
        return shape
    if type(m) is nn.Flatten and m.start_dim == 1 and m.end_dim == -1:
        return (torch.Size(shape).numel(),)
    if type(m) in (nn.Conv2d, nn.MaxPool2d) and len(shape) == 3 and not isinstance(m.padding, str):
        conv = type(m) is nn.Conv2d
        sides = tuple(_window_out(n, k, s, p, d, not conv and m.ceil_mode) for n, k, s, p, d in zip(
            shape[1:], _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation), strict=True))
        if min(sides) < 1:
            raise RuntimeError(f"input of {shape[1]}×{shape[2]} px is too small for {m}")
        return (m.out_channels if conv else shape[0], *sides)
    return None


def _flat_size(make: Callable[[], nn.Module], in_shape: tuple[int, ...]) -> int:
    """Features ``make()`` (ending in ``Flatten``) give one ``in_shape`` image: worked out from the layers'
    settings (a meta-device build would import torch's symbolic-shape code, about 1 s, on a model's every
    first build in a process), or on the meta device for layers that walk does not know. An image too small
    for the strides and pools raises ``RuntimeError``, which ``build_model``'s size check turns into a message
    with the smallest size that fits."""
    with torch.device("meta"):  # no weights drawn: the random stream stays the model's own
        features = make()
        shape = _feature_shape(features, tuple(in_shape))
        return shape[0] if shape is not None else features.eval()(torch.empty(1, *in_shape)).shape[1]


def _dense_head(flat: int, hidden: int, num_classes: int, dropout: float) -> list[nn.Module]:
    """AlexNet's and VGG's classifier: two ``hidden``-unit ReLU layers with dropout, then the output layer."""
    return [nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes)]


def _conv_then_dense(features: Callable[[], list[nn.Module]], in_shape: tuple[int, int, int],
                     num_classes: int, hidden: int, dropout: float) -> nn.Sequential:
    """``features`` (ending in ``Flatten``) followed by the dense head sized for ``in_shape``."""
    flat = _flat_size(lambda: nn.Sequential(*features()), in_shape)
    return nn.Sequential(*features(), *_dense_head(flat, hidden, num_classes, dropout))


@zoo_model("alexnet", "AlexNet (d2l): 5 convs and 3 dense layers; needs ≥ 65 px inputs (resize Fashion-MNIST)")
def alexnet(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, hidden: int | None = None,
            dropout: float = 0.5) -> nn.Sequential:
    """The book's AlexNet; ``hidden`` dense units default to ``4096 * width``.

    At ``in_shape=(1, 224, 224)``, 10 classes: ``[B,1,224,224] -> [B,96,54,54] -> … -> [B,256,5,5] ->
    [B,6400] -> [B,10]``, 46,787,978 parameters.
    """

    def features() -> list[nn.Module]:
        c96, c256, c384 = (scaled(c, width) for c in (96, 256, 384))
        return [nn.Conv2d(in_shape[0], c96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c96, c256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(c256, c384, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(c384, c384, kernel_size=3, padding=1), nn.ReLU(),
                nn.Conv2d(c384, c256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Flatten()]

    return _conv_then_dense(features, in_shape, num_classes, hidden or scaled(4096, width), dropout)


def vgg(conv_arch: Sequence[tuple[int, int]], in_shape: tuple[int, int, int] = (1, 224, 224),
        num_classes: int = 10, hidden: int = 4096, dropout: float = 0.5) -> nn.Sequential:
    """The book's ``vgg(conv_arch)``: one ``vgg_block(num_convs, in, out)`` per ``(num_convs, out)`` pair,
    then the dense head. Each block halves H and W, so 224 px inputs reach the head as ``[B, out, 7, 7]``.
    """
    def features() -> list[nn.Module]:
        blocks, in_channels = [], in_shape[0]
        for num_convs, out_channels in conv_arch:
            blocks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        return [*blocks, nn.Flatten()]

    return _conv_then_dense(features, in_shape, num_classes, hidden, dropout)


@zoo_model("vgg", "VGG (d2l) with depth=11/13/16/19 or arch=((convs, channels), …); ≥ 32 px inputs")
def build_vgg(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, depth: int = 11,
              arch: Sequence[tuple[int, int]] | None = None, hidden: int | None = None,
              dropout: float = 0.5) -> nn.Sequential:
    """VGG of ``depth`` (or of a custom ``arch``) with every width scaled by ``width``.

    The book's small VGG-11 (channel ratio 4, 4096 hidden units) is ``width=0.25, hidden=4096``.
    """
    if arch is None:
        _choice("vgg", "depth", depth, sorted(VGG_ARCHS))
        arch = VGG_ARCHS[depth]
    if not arch or any(len(pair) != 2 or min(pair) < 1 for pair in arch):
        raise ConfigError(f"vgg: arch must be a non-empty list of (num_convs, channels) pairs, got {arch!r}")
    conv_arch = [(n, scaled(c, width)) for n, c in arch]
    return vgg(conv_arch, tuple(in_shape), num_classes, hidden or scaled(4096, width), dropout)


@zoo_model("vgg11", "VGG-11 (d2l): 8 convs in 5 blocks and 3 dense layers; ≥ 32 px inputs")
def vgg11(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, hidden: int | None = None,
          dropout: float = 0.5) -> nn.Sequential:
    """VGG-11: ``build_vgg`` with ``depth=11`` (132,863,336 parameters at 3×224×224, 1000 classes)."""
    return build_vgg(in_shape, num_classes, width=width, depth=11, hidden=hidden, dropout=dropout)


@zoo_model("nin", "Network in Network (d2l): NiN blocks and global average pooling; needs ≥ 67 px inputs")
def nin(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, dropout: float = 0.5) -> nn.Sequential:
    """The book's NiN; the last NiN block has ``num_classes`` channels, averaged to the logits."""
    c96, c256, c384 = (scaled(c, width) for c in (96, 256, 384))

    def make() -> nn.Sequential:
        return nn.Sequential(
            nin_block(in_shape[0], c96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
            nin_block(c96, c256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
            nin_block(c256, c384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
            nn.Dropout(dropout),
            nin_block(c384, num_classes, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

    return make()


@zoo_model("googlenet", "GoogLeNet (d2l): 9 Inception blocks in 3 stages, global average pooling")
def googlenet(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0) -> nn.Sequential:
    """The book's GoogLeNet: ``Sequential(b1, b2, b3, b4, b5, Linear(1024, num_classes))`` at ``width=1``."""

    def s(c: int) -> int:
        return scaled(c, width)

    def make() -> nn.Sequential:
        b1 = nn.Sequential(nn.Conv2d(in_shape[0], s(64), kernel_size=7, stride=2, padding=3), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b2 = nn.Sequential(nn.Conv2d(s(64), s(64), kernel_size=1), nn.ReLU(),
                           nn.Conv2d(s(64), s(192), kernel_size=3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        stages, channels = [], s(192)
        for i, stage in enumerate(GOOGLENET_STAGES):
            blocks = []
            for c1, (r2, c2), (r3, c3), c4 in stage:
                blocks.append(Inception(channels, s(c1), (s(r2), s(c2)), (s(r3), s(c3)), s(c4)))
                channels = s(c1) + s(c2) + s(c3) + s(c4)
            last = i == len(GOOGLENET_STAGES) - 1
            tail = [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()] if last else [nn.MaxPool2d(3, stride=2, padding=1)]
            stages.append(nn.Sequential(*blocks, *tail))
        return nn.Sequential(b1, b2, *stages, nn.Linear(channels, num_classes))

    return make()


def _stem(name: str, in_channels: int, out_channels: int, stem: str, bias: bool) -> nn.Sequential:
    """ResNet's and DenseNet's first block.

    ``imagenet``: 7×7/2 conv, BN, ReLU, 3×3/2 max-pool (a quarter of the size, as in the book);
    ``small``: 3×3/1 conv, BN, ReLU (keeps 28 px images at 28 px, as for CIFAR-style networks).
    """
    _choice(name, "stem", stem, ("imagenet", "small"))
    if stem == "imagenet":
        return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=7, stride=2, padding=3, bias=bias),
                             nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def resnet(depth: int, in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0,
           variant: str = "d2l", stem: str = "imagenet") -> nn.Sequential:
    """ResNet-``depth`` (18 or 34): stem, four stages of ``Residual`` blocks (64, 128, 256, 512 channels
    times ``width``; each later stage halves H and W), global average pooling, a linear layer.

    ``variant="d2l"``: the book's blocks (convs with biases, 1×1 shortcut without batch norm);
    ``variant="torchvision"``: bias-free convs and a batch-normalised shortcut, which for 3×224×224
    inputs and 1000 classes has torchvision's 11,689,512 (ResNet-18) / 21,797,672 (ResNet-34) parameters.
    """
    name = f"resnet{depth}"
    _choice(name, "variant", variant, ("d2l", "torchvision"))
    options = {"bias": variant == "d2l", "bn_shortcut": variant == "torchvision"}
    channels = [scaled(c, width) for c in (64, 128, 256, 512)]

    def make() -> nn.Sequential:
        stages, prev = [], channels[0]
        for i, (c, n) in enumerate(zip(channels, RESNET_DEPTHS[depth], strict=True)):
            stages.append(resnet_block(prev, c, n, first_block=i == 0, **options))
            prev = c
        return nn.Sequential(_stem(name, in_shape[0], channels[0], stem, options["bias"]), *stages,
                             nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(prev, num_classes))

    return make()


@zoo_model("resnet18", "ResNet-18 (d2l, or variant='torchvision'); stem='small' for 28 px inputs")
def resnet18(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, variant: str = "d2l",
             stem: str = "imagenet") -> nn.Sequential:
    """ResNet-18: 2 residual blocks per stage (see ``resnet``)."""
    return resnet(18, in_shape, num_classes, width, variant, stem)


@zoo_model("resnet34", "ResNet-34 (d2l, or variant='torchvision'); stem='small' for 28 px inputs")
def resnet34(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, variant: str = "d2l",
             stem: str = "imagenet") -> nn.Sequential:
    """ResNet-34: 3, 4, 6, 3 residual blocks per stage (see ``resnet``)."""
    return resnet(34, in_shape, num_classes, width, variant, stem)


@zoo_model("densenet", "DenseNet (d2l): 4 dense blocks of 4 convs (growth 32) with transition layers")
def densenet(in_shape: tuple[int, int, int], num_classes: int, width: float = 1.0, growth_rate: int | None = None,
             blocks: Sequence[int] = (4, 4, 4, 4), stem: str = "imagenet") -> nn.Sequential:
    """The book's DenseNet: stem (64 channels), dense blocks each adding ``num_convs * growth_rate``
    channels, transitions halving channels and size between them, BN, ReLU, average pool, linear.

    At ``width=1`` the channels run 64 → 192 → 96 → 224 → 112 → 240 → 120 → 248.
    """
    growth = growth_rate or scaled(32, width)
    if not blocks or min(blocks) < 1 or growth < 1:
        raise ConfigError(f"densenet: blocks must be positive conv counts and growth_rate ≥ 1, got {blocks!r}, "
                          f"{growth}")

    def make() -> nn.Sequential:
        channels = scaled(64, width)
        layers: list[nn.Module] = [_stem("densenet", in_shape[0], channels, stem, bias=True)]
        for i, num_convs in enumerate(blocks):
            layers.append(DenseBlock(num_convs, channels, growth))
            channels += num_convs * growth
            if i != len(blocks) - 1:
                layers.append(transition_block(channels, channels // 2))
                channels //= 2
        return nn.Sequential(*layers, nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                             nn.Flatten(), nn.Linear(channels, num_classes))

    return make()
