"""Convolution and pooling from scratch vs. F.conv2d / F.max_pool2d / F.avg_pool2d (float64, 1e-10)."""

import pytest
import torch
import torch.nn.functional as F

from divekit.scratch.conv import (
    conv2d,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
    out_size,
    pad2d,
    pool2d,
)

TOL = 1e-10


def _rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def test_corr2d_book_example_and_edge_detection():
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.arange(4.0).reshape(2, 2)
    assert corr2d(X, K).tolist() == [[19.0, 25.0], [37.0, 43.0]]
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    assert Y[0].tolist() == [0, 1, 0, 0, 0, -1, 0]
    assert torch.count_nonzero(corr2d(X.t(), torch.tensor([[1.0, -1.0]]))) == 0  # horizontal edges unseen


@pytest.mark.parametrize("stride", [1, 2, (2, 3)])
def test_corr2d_and_channels_match_conv2d(stride):
    torch.manual_seed(0)
    X, K = _rand(3, 7, 9), _rand(4, 3, 3, 2)
    ref = F.conv2d(X[None], K, stride=stride)[0]
    torch.testing.assert_close(
        corr2d(X[0], K[0, 0], stride), F.conv2d(X[None, :1], K[:1, :1], stride=stride)[0, 0], rtol=0, atol=TOL
    )
    if stride == 1:
        torch.testing.assert_close(corr2d_multi_in(X, K[0]), ref[0], rtol=0, atol=TOL)
        torch.testing.assert_close(corr2d_multi_in_out(X, K), ref, rtol=0, atol=TOL)
    torch.testing.assert_close(conv2d(X[None], K, stride=stride)[0], ref, rtol=0, atol=TOL)


def test_1x1_convolution_is_a_matrix_product():
    torch.manual_seed(1)
    X, K = _rand(3, 4, 5), _rand(2, 3, 1, 1)
    torch.testing.assert_close(corr2d_multi_in_out_1x1(X, K), F.conv2d(X[None], K)[0], rtol=0, atol=TOL)
    torch.testing.assert_close(corr2d_multi_in_out_1x1(X, K), corr2d_multi_in_out(X, K), rtol=0, atol=TOL)


@pytest.mark.parametrize(("padding", "stride"), [(0, 1), (1, 1), (2, 2), ((1, 2), (3, 2))])
def test_batched_conv2d_values_and_gradients(padding, stride):
    torch.manual_seed(2)
    X, K, b = _rand(2, 3, 8, 7), _rand(4, 3, 3, 3), _rand(4)
    leaves = [t.clone().requires_grad_(True) for t in (X, K, b)]
    leaves2 = [t.clone().requires_grad_(True) for t in (X, K, b)]
    Y = conv2d(*leaves, stride=stride, padding=padding)
    Y2 = F.conv2d(*leaves2, stride=stride, padding=padding)
    assert Y.shape[2] == out_size(
        8,
        3,
        padding if isinstance(padding, int) else padding[0],
        stride if isinstance(stride, int) else stride[0],
    )
    torch.testing.assert_close(Y, Y2, rtol=0, atol=TOL)
    w = _rand(*Y.shape)
    (Y * w).sum().backward()
    (Y2 * w).sum().backward()
    for a, a2 in zip(leaves, leaves2, strict=True):
        torch.testing.assert_close(a.grad, a2.grad, rtol=0, atol=TOL)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(
    ("size", "stride", "padding"), [(2, None, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (2, 1), (1, 1))]
)
def test_pooling_matches_torch(mode, size, stride, padding):
    torch.manual_seed(3)
    X = _rand(2, 3, 7, 8).requires_grad_(True)
    X2 = X.detach().clone().requires_grad_(True)
    ref_fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    Y = pool2d(X, size, stride, padding, mode)
    Y2 = ref_fn(X2, size, stride, padding)
    torch.testing.assert_close(Y, Y2, rtol=0, atol=TOL)
    w = _rand(*Y.shape)
    (Y * w).sum().backward()
    (Y2 * w).sum().backward()
    torch.testing.assert_close(X.grad, X2.grad, rtol=0, atol=TOL)


def test_pad_and_errors():
    X = torch.ones(1, 2, 2)
    assert pad2d(X, 1).shape == (1, 4, 4) and float(pad2d(X, 1).sum()) == 4.0
    with pytest.raises(ValueError, match="does not fit"):
        corr2d(torch.ones(2, 2), torch.ones(3, 3))
    with pytest.raises(ValueError, match="conv2d expects"):
        conv2d(torch.ones(1, 2, 4, 4), torch.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        pool2d(X, 2, mode="median")
