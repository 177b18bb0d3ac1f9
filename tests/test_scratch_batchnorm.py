"""Batch normalisation from scratch vs. nn.BatchNorm1d/2d, train and eval mode, float64 (tolerance 1e-10)."""

import pytest
import torch
from torch import nn

from divekit.scratch.batchnorm import BatchNorm, batch_norm

TOL = 1e-10


@pytest.mark.parametrize(
    ("num_dims", "shape", "ref_cls"), [(2, (16, 5), nn.BatchNorm1d), (4, (8, 3, 5, 6), nn.BatchNorm2d)]
)
def test_batchnorm_equals_torch_train_and_eval_with_running_stats(num_dims, shape, ref_cls):
    torch.manual_seed(0)
    c = shape[1]
    ours = BatchNorm(c, num_dims).double()
    ref = ref_cls(c).double()
    with torch.no_grad():  # non-trivial learnable scale and shift, the same in both
        ours.gamma.copy_(torch.rand(ours.gamma.shape) + 0.5)
        ours.beta.copy_(torch.randn(ours.beta.shape))
        ref.weight.copy_(ours.gamma.reshape(-1))
        ref.bias.copy_(ours.beta.reshape(-1))
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.1)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(5):  # several training steps: outputs, gradients and running statistics agree
        X = (torch.randn(shape, dtype=torch.float64) * 3 + 2).requires_grad_(True)
        X2 = X.detach().clone().requires_grad_(True)
        w = torch.randn(shape, dtype=torch.float64)
        y, y2 = ours(X), ref(X2)
        torch.testing.assert_close(y, y2, rtol=0, atol=TOL)
        (y * w).sum().backward()
        (y2 * w).sum().backward()
        torch.testing.assert_close(X.grad, X2.grad, rtol=0, atol=TOL)
        torch.testing.assert_close(ours.gamma.grad.reshape(-1), ref.weight.grad, rtol=0, atol=TOL)
        torch.testing.assert_close(ours.beta.grad.reshape(-1), ref.bias.grad, rtol=0, atol=TOL)
        for opt in (opt_ours, opt_ref):
            opt.step()
            opt.zero_grad()
        torch.testing.assert_close(ours.moving_mean.reshape(-1), ref.running_mean, rtol=0, atol=TOL)
        torch.testing.assert_close(ours.moving_var.reshape(-1), ref.running_var, rtol=0, atol=TOL)
    assert not torch.allclose(ref.running_var, torch.ones(c, dtype=torch.float64))  # they did move
    ours.eval()
    ref.eval()
    X = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(X), ref(X), rtol=0, atol=TOL)
    torch.testing.assert_close(ours(X[:1]), ref(X[:1]), rtol=0, atol=TOL)  # one example is fine at prediction


def test_training_output_is_normalised_per_feature_and_validates_input():
    torch.manual_seed(1)
    X = torch.randn(32, 4, dtype=torch.float64) * 5 + 3
    gamma, beta = torch.ones(1, 4, dtype=torch.float64), torch.zeros(1, 4, dtype=torch.float64)
    Y, mean, var = batch_norm(X, gamma, beta, torch.zeros(1, 4), torch.ones(1, 4))
    torch.testing.assert_close(Y.mean(0), torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.allclose(Y.var(0, unbiased=False), torch.ones(4, dtype=torch.float64), atol=1e-5)
    torch.testing.assert_close(mean.reshape(-1), 0.1 * X.mean(0), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="more than one value"):
        batch_norm(X[:1], gamma, beta, torch.zeros(1, 4), torch.ones(1, 4))
    with pytest.raises(ValueError, match="shape"):
        BatchNorm(4, num_dims=4)(X)
