"""Faster CPU formulations of the book's LeNet layers, with the same maths: outputs and gradients equal those of
the plain layers to float rounding (tests/test_fast_lenet.py).

``speed_up(model)`` puts a model's convolutions in channels-last memory format and turns every plain
``nn.Sequential`` inside it into a ``FastSequential``: the same modules, parameter names and ``state_dict``,
whose forward pass runs two patterns through fused code when the activations are channels-last:

- ``Sigmoid → AvgPool2d(2)``: ``p = ¼ Σ_{a,b∈{0,1}} σ(z)[…, 2i+a, 2j+b]`` in one autograd node. With
  ``z`` stored ``[B, H, W, C]``, the row pair is two contiguous half-rows (one vectorised add over whole
  rows) and the column pair the two ``C``-float halves of each ``2C`` run; the backward
  ``dz = σ(z)(1 − σ(z)) · ¼ dp`` is one ``sigmoid_backward`` over ``z`` with ``dp`` broadcast over the row
  pair (no zero-filled pooling gradient, no intermediate ``dσ``).
- ``Conv2d`` (groups 1, 2–15 input channels, a kernel of 5 or more: LeNet's second convolution): forward and
  weight gradient as usual (channels-last); the input gradient ``dx = conv_transpose(dy, W)`` is computed in
  NCHW, where oneDNN's kernel is faster for these small convolutions, and handed back channels-last. For 3×3
  convolutions with more channels the channels-last input gradient is faster (the 48→96 convolution's input
  gradient at batch 256, two threads: 6.0 ms channels-last, 9.4 ms NCHW), so they keep the plain path.

The grayscale first convolution is left to oneDNN: channels-last, its weight gradient takes 2.6 ms (NCHW 9.4 ms),
faster than im2col + matmul or a batch-as-channels convolution (6–7 ms). Measured on 2 cores of an AMD EPYC
(AVX2, no native bf16), one thread, batch 256, CPU time of a channels-last LeNet training step (min of 30
steps): 22.5–24 ms with these formulations, 26–28 ms with the plain layers.

Anything else (other layers, NCHW activations, autocast, hooks such as ``divekit summary``'s, GPU tensors,
lazy modules) takes the plain module path, so the fast path never changes what a model computes or reports.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.modules import module as _module

CL = torch.channels_last
_sigmoid_backward = torch.ops.aten.sigmoid_backward
_conv_backward = torch.ops.aten.convolution_backward


def _is_cl(t: torch.Tensor) -> bool:
    """Stored ``[B, H, W, C]`` (and not also plain-contiguous, as a one-channel tensor would be)."""
    return t.dim() == 4 and t.is_contiguous(memory_format=CL) and not t.is_contiguous()


class _SigmoidAvgPool(torch.autograd.Function):
    """``avg_pool2d(sigmoid(z), 2)`` for channels-last ``z [B, C, H, W]``, even H, W → ``[B, C, H/2, W/2]``."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        s = torch.sigmoid(z)
        rows = s.permute(0, 2, 3, 1).reshape(b * h // 2, 2, w // 2, 2 * c)  # a view: [row pair, a, j, (b, c)]
        t = torch.add(rows[:, 0], rows[:, 1])
        p = torch.add(t[..., :c], t[..., c:]).mul_(0.25)
        ctx.save_for_backward(s)
        return p.view(b, h // 2, w // 2, c).permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable  # s was saved without a graph: a second derivative must not pass silently
    def backward(ctx, dp: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        b, c, h, w = s.shape
        n = b * h // 2
        d = dp.permute(0, 2, 3, 1).mul(0.25).reshape(n, w // 2, 1, c)
        # dp repeated over the column pair: one row. A cat, not a copy of d.expand(…, 2, c): a copy whose inner
        # run is only C floats took 1.19 ms for LeNet's first layer at batch 256, the cat 0.29 ms (2 threads)
        up = torch.cat((d, d), dim=2).view(n, 1, w * c)
        dz = _sigmoid_backward(up.expand(n, 2, w * c), s.permute(0, 2, 3, 1).reshape(n, 2, w * c))
        return dz.view(b, h, w, c).permute(0, 3, 1, 2)


def sigmoid_avg_pool2d(z: torch.Tensor) -> torch.Tensor:
    """``F.avg_pool2d(torch.sigmoid(z), 2)`` as one autograd node; ``z``: channels-last ``[B, C, H, W]`` with
    even H and W (the result is channels-last too)."""
    if not (_is_cl(z) and z.shape[-1] % 2 == 0 and z.shape[-2] % 2 == 0):
        raise ValueError(f"sigmoid_avg_pool2d needs a channels-last [B, C, H, W] tensor with even H and W, got "
                         f"shape {list(z.shape)} with strides {z.stride()}")
    return _SigmoidAvgPool.apply(z)


class _ConvNCHWInputGrad(torch.autograd.Function):
    """``F.conv2d`` (groups 1) whose input gradient is computed in NCHW and returned channels-last."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, has_bias = ctx.conf
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            # the input gradient does not read x, only its shape and layout: an NCHW tensor left unfilled, not a
            # copy of x (0.24 ms a LeNet step at batch 256)
            dx = _conv_backward(dy.contiguous(), x.new_empty(x.shape), weight.contiguous(), None, stride, padding,
                                dilation, False, [0, 0], 1, [True, False, False])[0].contiguous(memory_format=CL)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            _, dw, db = _conv_backward(dy, x, weight, [weight.shape[0]] if has_bias else None, stride, padding,
                                       dilation, False, [0, 0], 1, [False, True, has_bias])
        return dx, dw, db, None, None, None


def conv2d_nchw_input_grad(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a plain ``nn.Conv2d`` with ``groups == 1`` and zero padding given as numbers, its input
    gradient computed in NCHW (see the module docstring); ``x``: ``[B, C, H, W]`` → ``[B, O, H', W']``."""
    if not _conv_ok(conv):
        raise ValueError(f"conv2d_nchw_input_grad needs a plain Conv2d with groups=1 and numeric padding, got {conv}")
    return _ConvNCHWInputGrad.apply(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation)


def _conv_ok(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.groups == 1 and m.padding_mode == "zeros"
            and not isinstance(m.padding, str))


def _nchw_input_grad_pays(m: nn.Conv2d) -> bool:
    """LeNet-like convolutions only (a kernel of 5 or more, a few input channels): there the NCHW input gradient
    is faster; for the 3×3 convolutions of ``fastcnn``/``fast93`` it makes the whole step 7–14 % slower."""
    return 1 < m.in_channels < 16 and min(m.kernel_size) >= 5


def _pool_ok(m: nn.Module) -> bool:
    def pair(v):
        return tuple(v) if isinstance(v, tuple | list) else (v, v)

    return (type(m) is nn.AvgPool2d and pair(m.kernel_size) == (2, 2) and pair(m.stride or m.kernel_size) == (2, 2)
            and pair(m.padding) == (0, 0) and not m.ceil_mode and m.divisor_override is None)


def _hooked(m: nn.Module) -> bool:
    return bool(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks)


_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _plain_only(x) -> bool:
    """True when the fast path must not run: not a channels-last float CPU activation, autocast on, or
    global module hooks."""
    return (not isinstance(x, torch.Tensor) or x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64)
            or not _is_cl(x) or torch.is_autocast_enabled("cpu")
            or any(getattr(_module, name, None) for name in _GLOBAL_HOOKS))


class FastSequential(nn.Sequential):
    """An ``nn.Sequential`` that runs ``Sigmoid → AvgPool2d(2)`` pairs and multi-channel convolutions on
    channels-last activations through the fused functions above; every other module runs as usual."""

    def forward(self, x):
        mods = list(self._modules.values())
        i = 0
        while i < len(mods):
            m = mods[i]
            fast = not _hooked(m) and not _plain_only(x)
            if fast and type(m) is nn.Sigmoid and i + 1 < len(mods) and _pool_ok(mods[i + 1]) \
                    and not _hooked(mods[i + 1]) and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0:
                x = _SigmoidAvgPool.apply(x)
                i += 2
                continue
            if fast and _conv_ok(m) and _nchw_input_grad_pays(m) and _is_cl(m.weight):
                x = _ConvNCHWInputGrad.apply(x, m.weight, m.bias, m.stride, m.padding, m.dilation)
            else:
                x = m(x)
            i += 1
        return x


def speed_up(model: nn.Module) -> nn.Module:
    """Make ``model`` train faster on a CPU without changing its maths, in place, and return it.

    Convolution weights go channels-last (as ``divekit train`` does for conv nets; inputs need no conversion,
    the first convolution's output is channels-last; lazy layers not yet called are left, so call
    ``speed_up`` again after a first batch),
    and every plain ``nn.Sequential`` in ``model`` (``model`` itself included) becomes a ``FastSequential``.
    Parameter names, ``state_dict`` keys, module types and ``divekit summary`` stay the same; outputs and
    gradients equal the plain model's to float rounding. Safe to call twice.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and not nn.parameter.is_lazy(m.weight):  # lazy ones: after their first call
            m.to(memory_format=CL)
        if type(m) is nn.Sequential:
            m.__class__ = FastSequential
    return model
