"""Losses from scratch vs. torch.nn.functional, values and gradients in float64 (tolerance 1e-10)."""

import pytest
import torch
import torch.nn.functional as F

from divekit.scratch import losses

TOL = 1e-10


def _check(ours, theirs, *inputs):
    """Compare values and input gradients of two loss functions on the same float64 inputs."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    leaves2 = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    a, b = ours(*leaves), theirs(*leaves2)
    torch.testing.assert_close(a, b, rtol=0, atol=TOL)
    a.sum().backward()
    b.sum().backward()
    for x, x2 in zip(leaves, leaves2, strict=True):
        if x.requires_grad:
            torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    torch.manual_seed(0)
    y_hat, y = torch.randn(6, 4, dtype=torch.float64) * 2, torch.randn(6, 4, dtype=torch.float64)
    _check(
        lambda a, b: losses.l1_loss(a, b, reduction),
        lambda a, b: F.l1_loss(a, b, reduction=reduction),
        y_hat,
        y,
    )
    _check(
        lambda a, b: losses.mse_loss(a, b, reduction),
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        y_hat,
        y,
    )
    for delta in (0.5, 1.0, 2.0):  # both branches of the Huber loss occur with these inputs
        _check(
            lambda a, b, d=delta: losses.huber_loss(a, b, d, reduction),
            lambda a, b, d=delta: F.huber_loss(a, b, reduction=reduction, delta=d),
            y_hat,
            y,
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_classification_losses(reduction):
    torch.manual_seed(1)
    z = torch.randn(8, dtype=torch.float64) * 3
    t = torch.randint(0, 2, (8,)).double()
    _check(
        lambda p, y: losses.binary_cross_entropy(p, y, reduction),
        lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
        torch.sigmoid(z),
        t,
    )
    _check(
        lambda z, y: losses.binary_cross_entropy_with_logits(z, y, reduction),
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction=reduction),
        z,
        t,
    )
    logits, labels = torch.randn(8, 5, dtype=torch.float64) * 3, torch.randint(0, 5, (8,))
    _check(
        lambda a, y: losses.cross_entropy(a, y, reduction),
        lambda a, y: F.cross_entropy(a, y, reduction=reduction),
        logits,
        labels,
    )


def test_losses_stay_finite_for_extreme_scores():
    logits = torch.tensor([[1000.0, 0.0, -1000.0]], dtype=torch.float64)
    assert torch.isfinite(losses.cross_entropy(logits, torch.tensor([2])))
    assert float(losses.cross_entropy(logits, torch.tensor([2]))) == pytest.approx(2000.0)
    z = torch.tensor([800.0, -800.0], dtype=torch.float64)
    torch.testing.assert_close(
        losses.binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0], dtype=torch.float64)),
        F.binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0], dtype=torch.float64)),
    )
    # probabilities of exactly 0 and 1: both clamp the log at -100
    p, y = torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(losses.binary_cross_entropy(p, y), F.binary_cross_entropy(p, y))


def test_bad_reduction_is_named():
    with pytest.raises(ValueError, match="reduction"):
        losses.mse_loss(torch.zeros(2), torch.zeros(2), "average")
