"""Optimizers from scratch vs. torch.optim: after 100 steps the parameters agree to 1e-6 (float64)."""

import pytest
import torch

from divekit.scratch import optimizers


def _problem():
    torch.manual_seed(0)
    X = torch.randn(64, 5, dtype=torch.float64)
    y = torch.sin(X @ torch.randn(5, 1, dtype=torch.float64))
    params = [
        torch.randn(5, 8, dtype=torch.float64) * 0.5,
        torch.zeros(8, dtype=torch.float64),
        torch.randn(8, 1, dtype=torch.float64) * 0.5,
    ]
    return X, y, params


def _loss(X, y, W1, b1, W2):
    return ((torch.tanh(X @ W1 + b1) @ W2 - y) ** 2).mean()


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", sorted(optimizers.SETUPS))
def test_100_steps_match_torch_optim(name, weight_decay):
    X, y, params = _problem()
    ours = [p.clone().requires_grad_(True) for p in params]
    theirs = [p.clone().requires_grad_(True) for p in params]
    opt, ref = optimizers.make_pair(name, ours, theirs, weight_decay)
    first = float(_loss(X, y, *ours).detach())
    for _ in range(100):
        for o, ps in ((opt, ours), (ref, theirs)):
            o.zero_grad()
            _loss(X, y, *ps).backward()
            o.step()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=1e-6)
    assert any(not torch.allclose(a.detach(), p0) for a, p0 in zip(ours, params, strict=True))
    assert float(_loss(X, y, *ours).detach()) < first  # and it does optimise


def test_adam_bias_correction_first_step_is_lr_times_sign():
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = optimizers.Adam([p], lr=0.1)
    (p * torch.tensor([3.0, -0.001], dtype=torch.float64)).sum().backward()
    opt.step()  # v^ / sqrt(s^) = g / |g| on the first step
    torch.testing.assert_close(p.detach(), torch.tensor([0.9, -1.9], dtype=torch.float64), rtol=0, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="nesterov"):
        optimizers.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optimizers.Adam([])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optimizers.make_pair("lion", [], [])
