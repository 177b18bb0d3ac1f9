"""The model zoo: the book's shapes, reference parameter counts, the blocks, width scaling and errors.

Full-size networks are built on the meta device (no memory, no compute) for shapes and parameter
counts; real forward passes use width-scaled models on batches of 2 images.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from divekit.errors import ConfigError
from divekit.models import build_model
from divekit.models.blocks import (
    DenseBlock,
    Inception,
    Residual,
    conv_block,
    nin_block,
    resnet_block,
    transition_block,
    vgg_block,
)
from divekit.models.zoo import SUGGESTED, _feature_shape, vgg

ZOO = ["alexnet", "vgg11", "nin", "googlenet", "resnet18", "resnet34", "densenet"]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_build(name: str, in_shape, num_classes: int = 10, **options) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, in_shape, num_classes, **options)


def child_shapes(model: nn.Sequential, in_shape) -> list[tuple[int, ...]]:
    """Output shape of each top-level child for one image, on the meta device."""
    shapes = []
    x = torch.empty(1, *in_shape, device="meta")
    for child in model.eval():
        x = child(x)
        shapes.append(tuple(x.shape))
    return shapes


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize("side", [64, 96])
def test_forward_shape_at_two_sizes(name, side):
    """Every zoo model maps a [2, 1, side, side] batch to [2, 10] logits (width-scaled, real forward)."""
    if name in ("alexnet", "nin") and side == 64:
        side = 128  # these two need ≥ 65 px; keep two sizes per model
    torch.manual_seed(0)
    model = build_model(name, (1, side, side), 10, width=0.125)
    y = model(torch.randn(2, 1, side, side))
    assert y.shape == (2, 10)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "resnet34"])
def test_small_images_without_resizing(name):
    """Networks ending in global average pooling also take 28×28 Fashion-MNIST images as they are."""
    model = build_model(name, (1, 28, 28), 10, width=0.125)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_three_channels_and_other_class_counts():
    model = build_model("resnet18", (3, 32, 32), 7, width=0.125, stem="small")
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


# ---- the book's printed shapes, layer by layer (full width, meta device) ----

def test_alexnet_book_shapes():
    shapes = child_shapes(meta_build("alexnet", (1, 224, 224)), (1, 224, 224))
    assert shapes[0] == (1, 96, 54, 54) and shapes[2] == (1, 96, 26, 26)
    assert shapes[3] == (1, 256, 26, 26) and shapes[5] == (1, 256, 12, 12)
    assert shapes[6] == shapes[8] == (1, 384, 12, 12) and shapes[10] == (1, 256, 12, 12)
    assert shapes[12] == (1, 256, 5, 5) and shapes[13] == (1, 6400)
    assert shapes[14] == (1, 4096) and shapes[-1] == (1, 10)


def test_vgg11_book_shapes():
    """The book's VGG-11 at 224 px: each block halves the size (112, 56, 28, 14, 7)."""
    shapes = child_shapes(meta_build("vgg11", (1, 224, 224)), (1, 224, 224))
    assert shapes[:5] == [(1, 64, 112, 112), (1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14), (1, 512, 7, 7)]
    assert shapes[5] == (1, 25088) and shapes[-1] == (1, 10)


def test_vgg_small_book_variant_is_width_quarter():
    """The book's ``ratio = 4`` VGG-11 (4096 hidden units kept) equals ``width=0.25, hidden=4096``."""
    small_arch = [(n, c // 4) for n, c in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))]
    with torch.device("meta"):
        book = vgg(small_arch, (1, 224, 224), 10)
    ours = meta_build("vgg11", (1, 224, 224), width=0.25, hidden=4096)
    assert [tuple(p.shape) for p in book.parameters()] == [tuple(p.shape) for p in ours.parameters()]


def test_nin_book_shapes():
    shapes = child_shapes(meta_build("nin", (1, 224, 224)), (1, 224, 224))
    assert shapes == [(1, 96, 54, 54), (1, 96, 26, 26), (1, 256, 26, 26), (1, 256, 12, 12), (1, 384, 12, 12),
                      (1, 384, 5, 5), (1, 384, 5, 5), (1, 10, 5, 5), (1, 10, 1, 1), (1, 10)]


def test_googlenet_book_shapes():
    shapes = child_shapes(meta_build("googlenet", (1, 96, 96)), (1, 96, 96))
    assert shapes == [(1, 64, 24, 24), (1, 192, 12, 12), (1, 480, 6, 6), (1, 832, 3, 3), (1, 1024), (1, 10)]


def test_resnet18_book_shapes():
    shapes = child_shapes(meta_build("resnet18", (1, 224, 224)), (1, 224, 224))
    assert shapes == [(1, 64, 56, 56), (1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7),
                      (1, 512, 1, 1), (1, 512), (1, 10)]


def test_densenet_channel_arithmetic():
    """64 → +4·32 = 192 → 96 → 224 → 112 → 240 → 120 → 248 channels; transitions halve the size."""
    model = meta_build("densenet", (1, 96, 96))
    shapes = child_shapes(model, (1, 96, 96))
    assert [s[1] for s in shapes[:8]] == [64, 192, 96, 224, 112, 240, 120, 248]
    assert [s[2] for s in shapes[:8]] == [24, 24, 12, 12, 6, 6, 3, 3]
    assert model[-1].in_features == 248 and shapes[-1] == (1, 10)


# ---- parameter counts of the reference architectures ----

@pytest.mark.parametrize("name, in_shape, classes, options, expected", [
    ("resnet18", (3, 224, 224), 1000, {"variant": "torchvision"}, 11_689_512),   # torchvision resnet18
    ("resnet34", (3, 224, 224), 1000, {"variant": "torchvision"}, 21_797_672),   # torchvision resnet34
    ("vgg11", (3, 224, 224), 1000, {}, 132_863_336),                             # torchvision vgg11
    ("alexnet", (3, 224, 224), 10, {}, 46_787_978),
    # the book's AlexNet on 1-channel Fashion-MNIST: 2·96·11·11 = 23,232 weights fewer in the first conv
    ("alexnet", (1, 224, 224), 10, {}, 46_787_978 - 2 * 96 * 11 * 11),
    # the book's ResNet-18 differs from torchvision's by the conv biases (64 + 4·64 + 5·128 + 5·256 + 5·512
    # = 4,800) and by having no batch norm on the 1×1 shortcuts (2·(128 + 256 + 512) = 1,792)
    ("resnet18", (3, 224, 224), 1000, {}, 11_689_512 + 4_800 - 1_792),
])
def test_reference_parameter_counts(name, in_shape, classes, options, expected):
    assert n_params(meta_build(name, in_shape, classes, **options)) == expected


def test_googlenet_inception_channels_match_the_paper():
    """Szegedy et al. 2015, Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj of 3a … 5b."""
    paper = [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64), (192, 96, 208, 16, 48, 64),
             (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
             (256, 160, 320, 32, 128, 128), (256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)]
    blocks = [m for m in meta_build("googlenet", (3, 224, 224)).modules() if isinstance(m, Inception)]
    assert [(b.p1_1.out_channels, b.p2_1.out_channels, b.p2_2.out_channels, b.p3_1.out_channels,
             b.p3_2.out_channels, b.p4_2.out_channels) for b in blocks] == paper
    # block 3a by hand: weights 192·64 + 192·96 + 96·128·9 + 192·16 + 16·32·25 + 192·32, then the biases
    weights = 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32
    assert n_params(blocks[0]) == weights + 64 + 96 + 128 + 16 + 32 + 32 == 163_696


def test_every_builder_scales_with_width():
    for name in ZOO:
        side = SUGGESTED[name][0]
        full = n_params(meta_build(name, (1, side, side)))
        half = n_params(meta_build(name, (1, side, side), width=0.5))
        assert full / 5 < half < full / 2.5, name  # most weights are C_in·C_out: about a quarter


# ---- the blocks, with the book's examples ----

def test_residual_book_examples():
    x = torch.rand(4, 3, 6, 6)
    assert Residual(3, 3)(x).shape == (4, 3, 6, 6)
    assert Residual(3, 6, use_1x1conv=True, strides=2)(x).shape == (4, 6, 3, 3)


def test_residual_torchvision_layout_options():
    blk = Residual(8, 16, use_1x1conv=True, strides=2, bias=False, bn_shortcut=True)
    assert blk.conv1.bias is None and blk.conv3.bias is None and isinstance(blk.bn3, nn.BatchNorm2d)
    assert blk(torch.rand(2, 8, 6, 6)).shape == (2, 16, 3, 3)


def test_residual_adds_the_shortcut():
    """With the residual branch's last batch norm zeroed, the block is ``relu(x)``."""
    blk = Residual(3, 3).eval()
    nn.init.zeros_(blk.bn2.weight)
    nn.init.zeros_(blk.bn2.bias)
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(blk(x), torch.relu(x))


def test_resnet_block():
    assert len(resnet_block(64, 64, 2, first_block=True)) == 2
    blk = resnet_block(4, 8, 2)
    assert blk(torch.rand(1, 4, 8, 8)).shape == (1, 8, 4, 4)
    with pytest.raises(ConfigError, match="first_block"):
        resnet_block(4, 8, 2, first_block=True)


def test_dense_block_and_transition_book_examples():
    x = torch.randn(4, 3, 8, 8)
    y = DenseBlock(2, 3, 10)(x)
    assert y.shape == (4, 23, 8, 8)                                 # 3 + 2·10
    assert transition_block(23, 10)(y).shape == (4, 10, 4, 4)
    assert DenseBlock(3, 3, 8)(x).shape == (4, 27, 8, 8)            # 3 + 3·8
    torch.testing.assert_close(DenseBlock(2, 3, 10)(x)[:, :3], x)   # the input passes through unchanged


def test_conv_block_layout():
    blk = conv_block(3, 5)
    assert [type(m) for m in blk] == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert blk(torch.randn(2, 3, 4, 4)).shape == (2, 5, 4, 4)


def test_inception_vgg_and_nin_blocks():
    x = torch.randn(1, 192, 12, 12)
    assert Inception(192, 64, (96, 128), (16, 32), 32)(x).shape == (1, 256, 12, 12)
    assert vgg_block(2, 3, 8)(torch.randn(1, 3, 16, 16)).shape == (1, 8, 8, 8)
    assert nin_block(1, 6, kernel_size=11, strides=4, padding=0)(torch.randn(1, 1, 224, 224)).shape == (1, 6, 54, 54)


# ---- errors ----

def test_too_small_input_names_the_minimum_size():
    with pytest.raises(ConfigError, match=r"model alexnet needs inputs of at least 65×65 px, got 28×28; resize"):
        build_model("alexnet", (1, 28, 28), 10)


@pytest.mark.parametrize("options, match", [
    ({"width": 0}, r"--width: expected a number in \(0, 16\], got 0"),
    ({"width": "wide"}, r"--width: expected a number in \(0, 16\], got 'wide'"),
    ({"variant": "keras"}, "variant must be one of"),
    ({"stem": "tiny"}, "stem must be one of"),
    ({"depth": 12}, "depth must be one of"),
    ({"colour": True}, "model resnet18 takes no -o colour option .*its options: width, variant, stem"),
])
def test_bad_options(options, match):
    name = "vgg" if "depth" in options else "resnet18"
    with pytest.raises(ConfigError, match=match):
        meta_build(name, (1, 64, 64), **options)


def test_bad_in_shape():
    with pytest.raises(ConfigError, match=r"model resnet18 cannot take inputs of shape \(28, 28\).*\(channels, height"):
        build_model("resnet18", (28, 28), 10)


# ---- the dense head's input size, worked out from the layers' settings ----

@settings(max_examples=300, deadline=None)
@given(side=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 2), pool=st.booleans(), ceil_mode=st.booleans())
def test_window_arithmetic_matches_torch(side, kernel, stride, padding, dilation, pool, ceil_mode):
    """Conv and max-pool output sides, ceil mode included, equal torch's on real tensors; where torch refuses
    the input, the walk raises RuntimeError too."""
    if pool:
        layer = nn.MaxPool2d(kernel, stride, min(padding, kernel // 2), dilation, ceil_mode=ceil_mode)
    else:
        layer = nn.Conv2d(2, 3, kernel, stride, padding, dilation)
    try:
        expected = tuple(layer(torch.zeros(1, 2, side, side + 1)).shape[1:])
    except RuntimeError:
        with pytest.raises(RuntimeError):
            _feature_shape(layer, (2, side, side + 1))
        return
    assert _feature_shape(layer, (2, side, side + 1)) == expected


@pytest.mark.parametrize("name, side", [("alexnet", 65), ("alexnet", 96), ("alexnet", 224), ("vgg11", 32),
                                        ("vgg11", 64), ("vgg11", 100)])
def test_dense_head_is_sized_without_meta_forward(name, side):
    """AlexNet's and VGG's first dense layer takes exactly what their features give, sized from the layers'
    settings: a real forward pass runs, and no meta-device forward was needed to build the model."""
    model = build_model(name, (1, side, side), 10, width=0.125)
    features = nn.Sequential(*[m for m in model if not isinstance(m, nn.Linear | nn.Dropout)][:-2])
    flat = features.eval()(torch.zeros(1, 1, side, side)).shape[1]
    assert flat == next(m for m in model if isinstance(m, nn.Linear)).in_features
    assert _feature_shape(features, (1, side, side)) == (flat,)


def test_unknown_layers_fall_back_to_the_meta_device():
    assert _feature_shape(nn.Sequential(nn.Conv2d(1, 2, 3), nn.LocalResponseNorm(2)), (1, 8, 8)) is None
