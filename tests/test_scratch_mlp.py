"""MLP, activations and dropout from scratch vs. torch (float64, tolerance 1e-12 unless stated)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divekit.scratch.dropout import dropout
from divekit.scratch.mlp import MLP, relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad

TOL = 1e-12


@pytest.mark.parametrize(
    ("fn", "grad", "ref"),
    [(relu, relu_grad, torch.relu), (sigmoid, sigmoid_grad, torch.sigmoid), (tanh, tanh_grad, torch.tanh)],
)
def test_activation_and_derivative_match_autograd(fn, grad, ref):
    torch.manual_seed(0)
    x = (torch.randn(200, dtype=torch.float64) * 4).requires_grad_(True)
    torch.testing.assert_close(fn(x), ref(x), rtol=0, atol=TOL)
    (g_auto,) = torch.autograd.grad(ref(x).sum(), x)
    torch.testing.assert_close(grad(x.detach()), g_auto, rtol=0, atol=TOL)
    (g_ours,) = torch.autograd.grad(fn(x).sum(), x)  # autograd through our formula agrees too
    torch.testing.assert_close(g_ours, g_auto, rtol=0, atol=TOL)


def test_activations_do_not_overflow():
    x = torch.tensor([-1000.0, 1000.0], dtype=torch.float64)
    assert tanh(x).tolist() == [-1.0, 1.0]
    assert sigmoid(x).tolist() == [0.0, 1.0]


def test_mlp_shapes_and_equality_with_nn_sequential():
    torch.manual_seed(1)
    ours = MLP(12, [8, 6], 3, activation="tanh", sigma=0.5).double()
    assert ours.W1.shape == (12, 8) and ours.W2.shape == (8, 6) and ours.W3.shape == (6, 3)
    assert ours.b1.shape == (8,)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3)
    )
    ours.copy_to_torch(net.double())
    X, y = torch.randn(5, 3, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    torch.testing.assert_close(ours(X), net(X), rtol=0, atol=TOL)
    F.cross_entropy(ours(X), y).backward()
    F.cross_entropy(net(X), y).backward()
    for k, lin in enumerate([net[1], net[3], net[5]], start=1):
        W, b = ours.layer(k)
        torch.testing.assert_close(W.grad, lin.weight.grad.T, rtol=0, atol=TOL)
        torch.testing.assert_close(b.grad, lin.bias.grad, rtol=0, atol=TOL)
    with pytest.raises(ValueError, match="one probability per hidden layer"):
        MLP(4, [3, 3], 2, dropouts=[0.5])


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keep_probability_and_scaling_match_torch(p):
    torch.manual_seed(2)
    X = torch.ones(200_000, dtype=torch.float64, requires_grad=True)
    Y = dropout(X, p)
    kept = Y != 0
    # keep fraction ~ Binomial(n, 1-p): 5 standard deviations of the mean is about 0.0045 here
    assert abs(float(kept.double().mean()) - (1 - p)) < 0.005
    torch.testing.assert_close(Y[kept], torch.full_like(Y[kept], 1 / (1 - p)), rtol=0, atol=TOL)
    Yt = F.dropout(X.detach(), p, training=True)
    assert abs(float((Yt != 0).double().mean()) - float(kept.double().mean())) < 0.01
    assert float(Yt[Yt != 0][0]) == pytest.approx(
        float(Y.detach()[kept][0]), abs=TOL
    )  # same inverted scaling
    assert float(Y.detach().mean()) == pytest.approx(1.0, abs=0.02)  # E[dropout(x)] = x
    Y.sum().backward()  # the gradient passes through the kept units only, scaled alike
    torch.testing.assert_close(X.grad, Y.detach(), rtol=0, atol=TOL)


def test_dropout_edge_cases_and_eval_mode():
    X = torch.randn(4, 5)
    assert torch.equal(dropout(X, 0.0), X) and torch.equal(F.dropout(X, 0.0), X)
    assert torch.equal(dropout(X, 1.0), torch.zeros_like(X)) and torch.equal(
        F.dropout(X, 1.0), torch.zeros_like(X)
    )
    assert torch.equal(dropout(X, 0.5, training=False), X)
    assert torch.equal(F.dropout(X, 0.5, training=False), X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dropout(X, 1.5)
    net = MLP(5, [64], 2, dropouts=[0.5])
    net.eval()
    torch.testing.assert_close(net(X), net(X), rtol=0, atol=0)  # deterministic in eval mode
    net.train()
    assert not torch.equal(net(X), net(X))
