"""The small models: softmax regression, MLP, LeNet (book and BN) and the fast CNN."""

from __future__ import annotations

import math

import torch
from torch import nn

from divekit.models.registry import register
from divekit.options import check


def _flat(in_shape: tuple[int, ...]) -> int:
    return math.prod(in_shape)


def flat_features(body: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Number of features ``body`` outputs per example, found with a dummy forward in eval mode
    (so batch-norm running statistics are left untouched)."""
    was_training = body.training
    with torch.no_grad():
        n = body.eval()(torch.zeros(1, *in_shape)).flatten(1).shape[1]
    body.train(was_training)
    return n


@register("softmax", "softmax regression: flatten → linear (the book's concise version)")
def softmax_regression(in_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(_flat(in_shape), num_classes))


@register("mlp", "multilayer perceptron: flatten → [linear → ReLU (→ dropout)]×k → linear")
def mlp(in_shape, num_classes, hidden: tuple[int, ...] | int = 256, dropout: float = 0.0):
    hidden = tuple(hidden) if isinstance(hidden, (list, tuple)) else (hidden,)
    for h in hidden:  # build_model lets 0 through (fastcnn's "no hidden layer"); an MLP layer needs a unit
        check("hidden", h)
    layers: list[nn.Module] = [nn.Flatten()]
    width = _flat(in_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def _lenet(in_shape, num_classes, bn: bool):
    c = in_shape[0]
    act = nn.Sigmoid

    def norm(n, dims):
        return [nn.BatchNorm2d(n) if dims == 2 else nn.BatchNorm1d(n)] if bn else []

    features = nn.Sequential(
        nn.Conv2d(c, 6, kernel_size=5, padding=2), *norm(6, 2), act(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), *norm(16, 2), act(), nn.AvgPool2d(2, stride=2), nn.Flatten())
    n = flat_features(features, in_shape)
    return nn.Sequential(*features, nn.Linear(n, 120), *norm(120, 1), act(),
                         nn.Linear(120, 84), *norm(84, 1), act(), nn.Linear(84, num_classes))


def xavier_init(model: nn.Module) -> nn.Module:
    """Xavier-uniform weights for every conv and linear layer, as the book's ``train_ch6`` does."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return model


@register("lenet", "the book's LeNet-5: sigmoid, average pooling, Xavier init (d2l chapter 6.6)")
def lenet(in_shape, num_classes):
    """The book's LeNet, as written. Training runs it through a fast path with the same maths
    (``divekit.speed``: fused sigmoid → pool pairs, an NCHW input gradient for conv 2)."""
    return xavier_init(_lenet(in_shape, num_classes, bn=False))


@register("lenet-bn", "LeNet with batch norm after every conv/linear layer (d2l chapter 7.5)")
def lenet_bn(in_shape, num_classes):
    return _lenet(in_shape, num_classes, bn=True)


class PixelUnshuffle(nn.Module):
    """Space-to-depth: ``[B, C, H, W] → [B, C·r², H/r, W/r]``, a free re-layout that lets the first
    convolution run at a quarter of the resolution with four times the channels."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.pixel_unshuffle(x, self.factor)
        # pixel_unshuffle returns NCHW whatever it is given; the next convolution runs ~15% faster (forward and
        # backward) when its input is channels-last like its weights
        return y.contiguous(memory_format=torch.channels_last) if x.is_contiguous(
            memory_format=torch.channels_last) else y


def conv_pool_bn(cin: int, cout: int, kernel: int = 3, pool: bool = True, ceil: bool = False,
                 conv: nn.Module | None = None) -> list[nn.Module]:
    """conv → (max-pool) → batch norm → ReLU. Pooling before BN/ReLU gives the same kind of features
    (max-pool commutes with ReLU) at a quarter of the element-wise work. ``ceil``: an odd side keeps its
    last row/column (7 → 4 instead of 3); ``conv``: a ready convolution instead of a trained 3×3 one."""
    layers: list[nn.Module] = [conv or nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2, ceil_mode=ceil))
    return layers + [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _forget_fitted(module: nn.Module, incompatible_keys) -> None:
    module._known_fitted = False


class WhiteningConv2d(nn.Conv2d):
    """A frozen convolution whose filters whiten the input's ``k×k`` patches (PCA whitening).

    On its first forward pass in training mode it takes every ``k×k`` patch (all channels, ``d = C·k²``
    values) of that batch, computes their covariance ``Σ = V diag(λ) Vᵀ``, and sets its ``out/2`` filters to
    the leading eigenvectors ``v_i / sqrt(λ_i + eps)`` and the other ``out/2`` to their negatives (a ReLU
    later keeps both signs). The result is stored in the state dict (with ``fitted``), so a saved model never
    refits. The filters are not trained: nothing before the first trained layer needs a backward pass,
    which saves about a tenth of a step here, and the first layer starts out decorrelating pixels instead
    of learning to. In a data-parallel run the covariance is averaged over the processes.

    Args:
        cin, cout: channels in and out (``cout`` even, at most ``2·cin·k²``).
        kernel: patch size ``k``.
        eps: added to the eigenvalues, so that noise directions are not blown up.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, eps: float = 1e-2) -> None:
        if cout % 2 or cout > 2 * cin * kernel * kernel:
            raise ValueError(f"a whitening layer needs an even number of filters ≤ {2 * cin * kernel * kernel}, "
                             f"got {cout}")
        super().__init__(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.weight.requires_grad_(False)
        self.eps = eps
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        # reading the buffer on a GPU waits for the device, so once it has said "fitted" the answer is kept on
        # the host (forgotten whenever a state dict is loaded: it may hold an unfitted layer)
        self._known_fitted = False
        self.register_load_state_dict_post_hook(_forget_fitted)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not self._known_fitted:
            if not self.fitted:
                self.fit(x)
            self._known_fitted = True
        return super().forward(x)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Set the filters from the patches of ``x [B, C, H, W]``."""
        k = self.kernel_size[0]
        patches = nn.functional.unfold(x.double(), k, padding=self.padding)  # [B, C·k², positions]
        patches = patches.transpose(1, 2).reshape(-1, x.shape[1] * k * k)
        patches = patches - patches.mean(0)
        cov = patches.T @ patches / max(len(patches) - 1, 1)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(cov)
            cov /= torch.distributed.get_world_size()
        eigenvalues, vectors = torch.linalg.eigh(cov)  # ascending
        n = self.out_channels // 2
        top = vectors[:, -n:].flip(1).T / (eigenvalues[-n:].flip(0).clamp_min(0) + self.eps).sqrt()[:, None]
        self.weight.copy_(torch.cat([top, -top]).reshape_as(self.weight))
        self.fitted.fill_(True)


@register("fastcnn", "the default: a small BN-CNN tuned for speed on a CPU (space-to-depth, whitening, pool-first)")
def fastcnn(in_shape, num_classes, width: float = 1.0, whiten: bool = True, hidden: int = 96):
    """Space-to-depth stem (28×28×C → 14×14×4C), a frozen whitening 3×3 conv to 24 channels (``whiten=False``:
    a trained one), max-pool/BN/ReLU, a 3×3 conv block to 48 channels at 7×7 pooled to 4×4, then a hidden
    linear layer of ``hidden`` units with BN/ReLU (0: none) and the output layer; ``width`` multiplies the
    channels and the hidden units.

    On a validation split the hidden layer scores 0.25 % higher than a 1×1 conv block (64 → 128 channels at
    4×4) in its place (mean of 5 seeds) at ~15 % less time per step. Trained with Muon, as the default recipe
    does, these widths (24/48 channels, 96 hidden units) match a net 4/3 as wide (32/64/128) trained with SGD
    (0.9187 against 0.9179 on validation, 5 seeds) in ~0.65× the time (docs/benchmarks.md)."""
    c, h, w = in_shape
    c1, c2 = (max(8, round(k * width)) for k in (24, 48))
    hidden = max(8, round(hidden * width)) if hidden else 0
    stem = [PixelUnshuffle(2)] if h % 2 == 0 and w % 2 == 0 else []
    c0 = c * 4 if stem else c
    c1 += c1 % 2  # a whitening layer pairs each filter with its negative
    whitening = whiten and c1 <= 2 * c0 * 9
    first = conv_pool_bn(c0, c1, ceil=whitening, conv=WhiteningConv2d(c0, c1) if whitening else None)
    body = nn.Sequential(*stem, *first, *conv_pool_bn(c1, c2, ceil=True))
    n = flat_features(body, in_shape)
    head = [nn.Linear(n, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)] if hidden else []
    return nn.Sequential(*body, nn.Flatten(), *head, nn.Linear(hidden or n, num_classes))
