"""Initialisation from scratch vs. torch.nn.init (same seed -> same values) and two demonstrations."""

import math

import pytest
import torch
from torch import nn

from divekit.scratch import init


@pytest.mark.parametrize("shape", [(30, 20), (16, 8, 3, 3)])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda t: init.normal_(t, 0.5, 0.2), lambda t: nn.init.normal_(t, 0.5, 0.2)),
        (lambda t: init.uniform_(t, -0.3, 0.7), lambda t: nn.init.uniform_(t, -0.3, 0.7)),
        (lambda t: init.xavier_uniform_(t), lambda t: nn.init.xavier_uniform_(t)),
        (lambda t: init.xavier_normal_(t, gain=5 / 3), lambda t: nn.init.xavier_normal_(t, gain=5 / 3)),
        (lambda t: init.kaiming_uniform_(t), lambda t: nn.init.kaiming_uniform_(t)),
        (
            lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
            lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
        ),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
        ),
    ],
)
def test_initialisers_equal_torch_under_the_same_seed(shape, ours, theirs):
    a, b = torch.empty(shape, dtype=torch.float64), torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(7)
    ours(a)
    torch.manual_seed(7)
    theirs(b)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_fans_gains_and_statistics():
    assert init.fans(torch.empty(16, 8, 3, 3)) == (72, 144)
    assert init.gain("relu") == pytest.approx(nn.init.calculate_gain("relu"))
    assert init.gain("tanh") == pytest.approx(nn.init.calculate_gain("tanh"))
    assert init.gain("leaky_relu", 0.2) == pytest.approx(nn.init.calculate_gain("leaky_relu", 0.2))
    torch.manual_seed(0)
    W = init.xavier_uniform_(torch.empty(400, 600, dtype=torch.float64))
    assert float(W.var()) == pytest.approx(2 / 1000, rel=0.02)
    assert float(W.abs().max()) <= math.sqrt(6 / 1000)
    W = init.kaiming_normal_(torch.empty(400, 600, dtype=torch.float64), nonlinearity="relu")
    assert float(W.std()) == pytest.approx(math.sqrt(2 / 600), rel=0.02)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(torch.empty(5))


def test_net_apply_initialises_per_layer_type():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    net.apply(init.init_by_layer)
    conv, lin = net[0], net[3]
    assert float(conv.bias.detach().abs().max()) == 0.0 and float(lin.bias.detach().abs().max()) == 0.0
    assert float(lin.weight.detach().abs().max()) <= math.sqrt(6 / (288 + 10))  # Xavier uniform bound
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / 27), rel=0.15)  # Kaiming normal
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    torch.manual_seed(1)
    net.apply(init.init_by_layer)
    torch.manual_seed(1)
    nn.init.kaiming_normal_(ref[0].weight, nonlinearity="relu")
    nn.init.xavier_uniform_(ref[3].weight)
    torch.testing.assert_close(net[0].weight, ref[0].weight, rtol=0, atol=0)
    torch.testing.assert_close(net[3].weight, ref[3].weight, rtol=0, atol=0)


def test_equal_initial_weights_never_break_symmetry():
    torch.manual_seed(0)
    spread, moved = init.symmetry_demo()
    assert spread == 0.0 and moved > 1e-3


def test_xavier_keeps_activation_variance_through_depth():
    torch.manual_seed(0)
    xavier = init.activation_variances("xavier", depth=20, activation="linear")
    naive = init.activation_variances("normal", depth=20, activation="linear")
    small = init.activation_variances("small", depth=20, activation="linear")
    assert 0.2 < xavier[-1] / xavier[0] < 5  # about constant
    assert naive[-1] > 1e20 and small[-1] < 1e-20  # explodes / vanishes
    kaiming = init.activation_variances("kaiming", depth=20, activation="relu")
    assert 0.1 < kaiming[-1] / kaiming[0] < 10
