"""Test-time augmentation: flips and one-pixel shifts (``tta_probabilities``), the fill value, the CLI option."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from divekit.data.loader import TensorLoader
from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.training.evaluate import evaluate, shifted, tta_probabilities


def moved_by_hand(x: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """Reference: every output pixel (i, j) reads input (i - dy, j - dx), or ``fill`` outside."""
    out = torch.full_like(x, fill)
    h, w = x.shape[-2:]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[..., i, j] = x[..., i - dy, j - dx]
    return out


@pytest.mark.parametrize("dy, dx", [(1, 0), (-1, 0), (0, 1), (0, -1), (2, -1)])
def test_shifted_moves_the_image_and_fills_the_edge(dy, dx):
    x = torch.randn(2, 3, 5, 6)
    torch.testing.assert_close(shifted(x, dy, dx, fill=-0.5), moved_by_hand(x, dy, dx, -0.5), rtol=0, atol=0)
    cl = x.contiguous(memory_format=torch.channels_last)
    assert shifted(cl, dy, dx).is_contiguous(memory_format=torch.channels_last)


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).eval()


def test_tta_probabilities_weights_the_views_as_documented():
    net, x, fill = small_net(), torch.randn(3, 1, 6, 6), -0.4
    p = lambda v: net(v).softmax(1)  # noqa: E731
    with torch.no_grad():
        torch.testing.assert_close(tta_probabilities(net, x), p(x), rtol=0, atol=0)
        # flips alone: exactly (image + mirror) / 2, bit for bit
        assert torch.equal(tta_probabilities(net, x, flip=True), (p(x) + p(x.flip(3))) / 2)
        moves = [(1, 0), (-1, 0), (0, 1), (0, -1)]
        expected = 0
        for v in (x, x.flip(3)):
            expected = expected + p(v) + sum(p(moved_by_hand(v, dy, dx, fill)) for dy, dx in moves) / 4
        got = tta_probabilities(net, x, flip=True, shift=1, fill=fill)
        torch.testing.assert_close(got, expected / 4, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(got.sum(1), torch.ones(3))  # still probabilities


def test_evaluate_fills_shifted_views_with_the_loaders_black_pixel():
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (40, 1, 6, 6), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 5, (40,), generator=gen)
    loader = TensorLoader(images, labels, 16, mean=0.3, std=0.2)
    black = loader.convert(torch.zeros(1, 1, 1, 1, dtype=torch.uint8)).item()
    assert loader.pad_value == pytest.approx(black)
    net = small_net()
    x = loader.convert(images)
    with torch.no_grad():
        probs = tta_probabilities(net, x, flip=True, shift=1, fill=black)
        wrong_fill = tta_probabilities(net, x, flip=True, shift=1, fill=0.0)
    assert not torch.allclose(probs, wrong_fill)  # the fill matters, so the next line tests it
    metrics = evaluate(net, loader, tta_flip=True, tta_shift=1)
    assert metrics["acc"] == pytest.approx((probs.argmax(1) == labels).float().mean().item())
    assert metrics["loss"] == pytest.approx(torch.nn.functional.nll_loss(probs.log(), labels).item(), rel=1e-5)


@pytest.mark.parametrize("bad", [-1, 9])
def test_tta_shift_is_validated(bad):
    with pytest.raises(ConfigError, match="--tta-shift"):
        TrainConfig(tta_shift=bad).validate()


def test_cli_passes_tta_shift():
    from divekit.cli.train import add_arguments
    from divekit.cli.train import config_from_args as training_config

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert training_config(p.parse_args(["--model", "lenet", "--tta-shift", "2"])).tta_shift == 2
    assert training_config(p.parse_args(["--model", "lenet"])).tta_shift == 0
