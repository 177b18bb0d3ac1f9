"""Every foundation model builds by name and maps a batch to one logit per class."""

import pytest
import torch

from divekit.errors import ConfigError
from divekit.models.registry import build_model


@pytest.mark.parametrize("name", ["softmax", "mlp", "lenet", "lenet-bn", "fastcnn"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_output_shape(name, shape):
    model = build_model(name, shape, 7)
    assert model(torch.randn(4, *shape)).shape == (4, 7)


def test_lenet_matches_the_book():
    model = build_model("lenet", (1, 28, 28), 10)
    assert sum(p.numel() for p in model.parameters()) == 61706  # d2l LeNet-5 on 28×28
    assert any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in model.modules())


def test_building_does_not_touch_batchnorm_statistics():
    model = build_model("fastcnn", (1, 28, 28), 10)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.num_batches_tracked.item() == 0 and torch.all(bn.running_var == 1)


def test_unknown_model_and_bad_option():
    with pytest.raises(ConfigError, match="unknown model 'resnet9000'"):
        build_model("resnet9000")
    with pytest.raises(ConfigError, match="fastcnn"):
        build_model("fastcnn", (1, 28, 28), 10, depth=3)
