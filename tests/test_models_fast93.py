"""The fmnist-93 recipe's model builds by name with the documented size, and the recipe resolves to the
documented configuration (no training here)."""

import argparse

import pytest
import torch

from divekit.models.registry import build_model

PARAMS = 79594  # fast93: channels 48/96/192, no residual block
CNN3_PARAMS = 57498  # the recipe's net: cnn3, channels 16/48/96
RECIPE_OPT = (15, 256, "sgd", 0.2, 0.9, True)  # epochs, batch, optimizer, peak lr, momentum, Nesterov
RECIPE_SCHEDULE = ("onecycle", 0.25, 5e-4, 0.1)  # schedule, warm-up share, weight decay, label smoothing


def test_fast93_output_shape_and_size():
    model = build_model("fast93", (1, 28, 28), 10)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == PARAMS
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 3
    with_block = build_model("fast93", (1, 28, 28), 10, blocks=1)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in with_block.modules()) == 5  # + the block's two 3×3 convs
    assert sum(p.numel() for p in with_block.parameters()) == PARAMS + 2 * (48 * 48 * 9 + 2 * 48)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 27, 27)])
def test_fast93_other_shapes_and_width(shape):
    model = build_model("fast93", shape, 7, width=0.5, blocks=0)
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_fast93_whitening_and_ceil_pooling_options():
    from divekit.models.simple import WhiteningConv2d

    model = build_model("fast93", (1, 28, 28), 10, whiten=True, ceil=True)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert isinstance(first, WhiteningConv2d) and not first.weight.requires_grad
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert linear.in_features == 192 * 4 * 4  # 7×7 pooled to 4×4, not 3×3
    assert build_model("fast93", (1, 28, 28), 10)[-1].in_features == 192 * 3 * 3


def test_cnn3_layout_size_and_other_shapes():
    model = build_model("cnn3", (1, 28, 28), 10)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == CNN3_PARAMS
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 16, (3, 3)), (16, 48, (3, 3)),
                                                                                (48, 96, (3, 3))]
    assert model[-1].in_features == 96 * 3 * 3  # 28 → 14 → 7 → 3: the first conv runs at full resolution
    assert build_model("cnn3", (3, 32, 32), 7, width=0.5)(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert build_model("cnn3", (1, 28, 28), 10, ceil=True)[-1].in_features == 96 * 4 * 4  # 7 → 4 with ceil


def test_residual_block_keeps_the_input_path():
    from divekit.models.cnn3 import Residual

    block = Residual(8).eval()
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)  # the body outputs relu(bn(0)) = 0: only the skip path is left
    x = torch.randn(2, 8, 7, 7)
    torch.testing.assert_close(block(x), x)


def test_recipe_resolves_to_the_documented_config():
    from divekit.cli.train import add_arguments
    from divekit.cli.train import config_from_args as training_config

    p = argparse.ArgumentParser()
    add_arguments(p)
    config = training_config(p.parse_args(["--recipe", "fmnist-93-bf16"]))
    assert (config.model, config.model_options, config.data) == ("cnn3", {"channels": [32, 96, 192]}, "fashion-mnist")
    assert (config.epochs, config.batch_size, config.opt, config.lr, config.momentum, config.nesterov) == RECIPE_OPT
    assert (config.schedule, config.warmup, config.weight_decay, config.label_smoothing) == RECIPE_SCHEDULE
    assert (config.augment_crop, config.augment_flip, config.tta_flip) == (1, True, True)
    assert (config.precision, config.test_every) == ("auto", 0)
    explicit = training_config(p.parse_args(["--recipe", "fmnist-93-bf16", "--epochs", "2", "--no-flip"]))
    assert explicit.epochs == 2 and not explicit.augment_flip and not explicit.tta_flip and explicit.augment_crop == 1
    narrow = training_config(p.parse_args(["--recipe", "fmnist-93-bf16", "--width", "0.5"]))
    assert narrow.model_options == {"channels": [32, 96, 192], "width": 0.5}  # --width scales the recipe's net
