"""Convolution and pooling from scratch (D2L §7.2-7.5).

A "convolution" layer computes a cross-correlation: ``Y[i, j] = sum_{a, b} X[i + a, j + b] K[a, b]``.
With input (h, w), kernel (kh, kw), padding p and stride s the output has
``floor((h + 2p - kh) / s) + 1`` rows (columns likewise), as in ``F.conv2d``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def out_size(h: int, k: int, padding: int = 0, stride: int = 1) -> int:
    """Output length along one axis: ``floor((h + 2 padding - k) / stride) + 1``."""
    n = (h + 2 * padding - k) // stride + 1
    if n < 1:
        raise ValueError(f"window {k} does not fit into input {h} with padding {padding}")
    return n


def _window(X: Tensor, a: int, b: int, oh: int, ow: int, stride: tuple[int, int]) -> Tensor:
    """The entries ``X[..., a + s_h i, b + s_w j]`` for all output positions (i, j): shape (..., oh, ow)."""
    sh, sw = stride
    return X[..., a : a + sh * (oh - 1) + 1 : sh, b : b + sw * (ow - 1) + 1 : sw]


def pad2d(X: Tensor, padding: int | tuple[int, int], value: float = 0.0) -> Tensor:
    """Pad the last two axes with ``padding`` rows/columns of ``value``: (..., h, w) -> (..., h+2p, w+2q)."""
    ph, pw = _pair(padding)
    if ph == pw == 0:
        return X
    h, w = X.shape[-2:]
    Z = X.new_full((*X.shape[:-2], h + 2 * ph, w + 2 * pw), value)
    Z[..., ph : ph + h, pw : pw + w] = X
    return Z


def corr2d(X: Tensor, K: Tensor, stride: int | tuple[int, int] = 1) -> Tensor:
    """2-D cross-correlation of ``X`` (h, w) with ``K`` (kh, kw), no padding: -> (oh, ow).

    The book loops over output positions; looping over the kh * kw kernel offsets instead gives the
    same sum ``Y = sum_{a, b} K[a, b] * X[a:a+oh, b:b+ow]`` with far fewer Python steps.
    """
    s = _pair(stride)
    kh, kw = K.shape
    oh, ow = out_size(X.shape[0], kh, 0, s[0]), out_size(X.shape[1], kw, 0, s[1])
    Y = X.new_zeros((oh, ow))
    for a in range(kh):
        for b in range(kw):
            Y = Y + K[a, b] * _window(X, a, b, oh, ow, s)
    return Y


def corr2d_multi_in(X: Tensor, K: Tensor) -> Tensor:
    """Several input channels: correlate each channel, add up; (c_i, h, w), (c_i, kh, kw) -> (oh, ow)."""
    return sum(corr2d(x, k) for x, k in zip(X, K, strict=True))


def corr2d_multi_in_out(X: Tensor, K: Tensor) -> Tensor:
    """One multi-input kernel per output channel: (c_i, h, w), (c_o, c_i, kh, kw) -> (c_o, oh, ow)."""
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(X: Tensor, K: Tensor) -> Tensor:
    """A 1x1 convolution is a matrix product over channels at each pixel: (c_o, c_i) @ (c_i, h*w).

    Args:
        X: (c_i, h, w). K: (c_o, c_i, 1, 1).

    Returns:
        (c_o, h, w).
    """
    c_i, h, w = X.shape
    return torch.matmul(K.reshape(K.shape[0], c_i), X.reshape(c_i, h * w)).reshape(-1, h, w)


def conv2d(
    X: Tensor,
    K: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """Batched multi-channel cross-correlation, like ``F.conv2d``.

    ``Y[n, o] = bias[o] + sum_{c, a, b} K[o, c, a, b] X_pad[n, c, a + s i, b + s j]``.

    Args:
        X: (n, c_i, h, w). K: (c_o, c_i, kh, kw). bias: (c_o,) or None.

    Returns:
        (n, c_o, oh, ow).
    """
    if X.dim() != 4 or K.dim() != 4 or X.shape[1] != K.shape[1]:
        raise ValueError(
            f"conv2d expects X (n, c_i, h, w) and K (c_o, c_i, kh, kw), "
            f"got {tuple(X.shape)} and {tuple(K.shape)}"
        )
    s = _pair(stride)
    X = pad2d(X, padding)
    kh, kw = K.shape[2:]
    oh, ow = out_size(X.shape[2], kh, 0, s[0]), out_size(X.shape[3], kw, 0, s[1])
    Y = X.new_zeros((X.shape[0], K.shape[0], oh, ow))
    for a in range(kh):
        for b in range(kw):
            # for this kernel offset: a 1x1 convolution of the shifted input with K[:, :, a, b]
            Y = Y + torch.einsum("nchw,oc->nohw", _window(X, a, b, oh, ow, s), K[:, :, a, b])
    return Y if bias is None else Y + bias.reshape(1, -1, 1, 1)


def pool2d(
    X: Tensor,
    pool_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    mode: str = "max",
) -> Tensor:
    """Maximum or average over each window of the last two axes, channel by channel.

    Like ``F.max_pool2d``/``F.avg_pool2d``: the stride defaults to the window size, max pooling pads
    with -inf and average pooling pads with zeros that count in the mean (``count_include_pad=True``).

    Args:
        X: (..., h, w), e.g. (n, c, h, w). pool_size: (ph, pw). mode: ``"max"`` or ``"avg"``.

    Returns:
        (..., oh, ow).
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    kh, kw = _pair(pool_size)
    s = _pair(stride) if stride is not None else (kh, kw)
    X = pad2d(X, padding, float("-inf") if mode == "max" else 0.0)
    oh, ow = out_size(X.shape[-2], kh, 0, s[0]), out_size(X.shape[-1], kw, 0, s[1])
    windows = torch.stack([_window(X, a, b, oh, ow, s) for a in range(kh) for b in range(kw)], 0)
    return windows.max(dim=0).values if mode == "max" else windows.mean(dim=0)
