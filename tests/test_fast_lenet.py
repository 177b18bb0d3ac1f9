"""The fast LeNet formulations (divekit.speed.lenet) compute what the plain layers compute.

Tolerances: float64 outputs and gradients within 1e-10 of the plain nn.Conv2d / nn.Sigmoid / nn.AvgPool2d
layers; float32 (the training precision) within 1e-5.
"""

import copy
import pickle

import pytest
import torch
from torch import nn

from divekit.models.registry import build_model
from divekit.models.simple import _lenet, xavier_init
from divekit.models.summarize import summary
from divekit.speed.lenet import FastSequential, conv2d_nchw_input_grad, sigmoid_avg_pool2d, speed_up

CL = torch.channels_last


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= tol


def _plain_lenet(dtype=torch.float64, in_shape=(1, 28, 28)) -> nn.Module:
    torch.manual_seed(0)
    return xavier_init(_lenet(in_shape, 10, bn=False)).to(dtype)


def _graph_nodes(out: torch.Tensor) -> set[str]:
    """Names of the autograd nodes behind ``out``."""
    seen, todo, names = set(), [out.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        todo += [n for n, _ in node.next_functions]
    return names


def _grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    out = model(x)
    nn.functional.cross_entropy(out, y).backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("shape", [(3, 6, 28, 28), (2, 16, 10, 10), (2, 3, 4, 6)])
def test_sigmoid_avg_pool_matches_the_two_layers(shape):
    z = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    dp = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2, dtype=torch.float64)
    ref = nn.functional.avg_pool2d(torch.sigmoid(z), 2)
    (g_ref,) = torch.autograd.grad(ref, z, dp)
    out = sigmoid_avg_pool2d(z)
    (g,) = torch.autograd.grad(out, z, dp)
    _close(out, ref, 1e-10)
    _close(g, g_ref, 1e-10)
    assert out.is_contiguous(memory_format=CL) and g.is_contiguous(memory_format=CL)


def test_no_silent_second_derivative():
    z = torch.randn(2, 3, 4, 4, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    (g,) = torch.autograd.grad(sigmoid_avg_pool2d(z).sum(), z, create_graph=True)
    assert g.grad_fn is None  # not differentiable again (instead of a wrong second derivative)


def test_sigmoid_avg_pool_rejects_odd_sizes_and_nchw():
    with pytest.raises(ValueError, match="even H and W"):
        sigmoid_avg_pool2d(torch.zeros(1, 2, 5, 4).contiguous(memory_format=CL))
    with pytest.raises(ValueError, match="channels-last"):
        sigmoid_avg_pool2d(torch.zeros(1, 2, 4, 4))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=5), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, dilation=2, bias=False),
                                    dict(kernel_size=(3, 5), stride=(2, 1))])
def test_nchw_input_grad_conv_matches_conv2d(kwargs):
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 4, **kwargs).double().to(memory_format=CL)
    x = torch.randn(5, 6, 13, 12, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    ref = conv(x)
    dy = torch.randn_like(ref)
    wrt = [x, *conv.parameters()]
    g_ref = torch.autograd.grad(ref, wrt, dy)
    out = conv2d_nchw_input_grad(x, conv)
    g = torch.autograd.grad(out, wrt, dy)
    _close(out, ref, 1e-10)
    for a, b in zip(g, g_ref, strict=True):
        _close(a, b, 1e-10)
    assert g[0].is_contiguous(memory_format=CL)


def test_nchw_input_grad_conv_rejects_other_convs():
    with pytest.raises(ValueError, match="groups=1"):
        conv2d_nchw_input_grad(torch.zeros(1, 4, 8, 8), nn.Conv2d(4, 4, 3, groups=2))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_lenet_trains_like_the_plain_one(dtype, tol, channels_last):
    plain = _plain_lenet(dtype)
    fast = speed_up(copy.deepcopy(plain))
    x = torch.rand(8, 1, 28, 28, dtype=dtype)
    if channels_last:  # as `divekit train` prepares conv nets (speed_up does it anyway)
        plain, x = plain.to(memory_format=CL), x.contiguous(memory_format=CL)
    y = torch.randint(0, 10, (8,))
    opts = [torch.optim.SGD(m.parameters(), lr=0.9) for m in (plain, fast)]
    nodes = _graph_nodes(fast(x))
    assert {"_SigmoidAvgPoolBackward", "_ConvNCHWInputGradBackward"} <= nodes  # the fast path ran
    assert not {"AvgPool2DBackward0", "SigmoidBackward0"} & _graph_nodes(fast[:6](x))  # every pair was fused
    for _ in range(3):  # a few SGD steps: the trajectories stay together
        (out_a, g_a), (out_b, g_b) = _grads(plain, x, y), _grads(fast, x, y)
        _close(out_b, out_a, tol)
        for a, b in zip(g_a, g_b, strict=True):
            _close(b, a, tol)
        for opt in opts:
            opt.step()
    with torch.inference_mode():
        _close(fast.eval()(x), plain.eval()(x), tol)


def test_speed_up_keeps_names_types_and_summary():
    plain = _plain_lenet(torch.float32)
    fast = speed_up(copy.deepcopy(plain))
    assert isinstance(fast, FastSequential) and speed_up(fast) is fast
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert [type(m) for m in fast.children()] == [type(m) for m in plain.children()]
    assert summary(fast, (2, 1, 28, 28)).table() == summary(plain, (2, 1, 28, 28)).table()
    clone = pickle.loads(pickle.dumps(fast))
    x = torch.rand(2, 1, 28, 28)
    assert isinstance(clone, FastSequential) and torch.equal(clone(x), fast(x))


def test_lenet_trains_fast_and_is_still_the_book_model():
    from divekit import speed

    plain = build_model("lenet", (1, 28, 28), 10)
    assert not isinstance(plain, FastSequential)  # what the registry builds (and summary shows): the book's net
    model, applied = speed.speed_up_model("lenet", plain)
    assert isinstance(model, FastSequential) and applied == ["lenet_kernels"]
    assert [type(m).__name__ for m in plain] == [type(m).__name__ for m in model]
    assert [type(m).__name__ for m in model] == ["Conv2d", "Sigmoid", "AvgPool2d", "Conv2d", "Sigmoid", "AvgPool2d",
                                                 "Flatten", "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]


def test_hooks_see_every_layer():
    fast = speed_up(_plain_lenet(torch.float32))
    seen = []
    for m in fast:
        m.register_forward_hook(lambda mod, args, out: seen.append(type(mod).__name__))
    fast(torch.rand(2, 1, 28, 28))
    assert seen == [type(m).__name__ for m in fast]


def test_plain_path_for_odd_sizes_lazy_layers_and_autocast():
    def book_lenet():  # the book's chapter builds LeNet from lazy layers
        return nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
                             nn.LazyConv2d(4, kernel_size=4), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
                             nn.LazyLinear(3))

    for size in (28, 27):  # odd feature maps (27 → 13) are floored by AvgPool2d
        x = torch.rand(3, 1, size, size)
        lazy, fast = book_lenet(), speed_up(book_lenet())
        torch.manual_seed(2)
        ref = lazy(x)  # the first call materialises the parameters: same seed, same values
        torch.manual_seed(2)
        _close(fast(x), ref, 1e-5)
        _close(fast(x), ref, 1e-5)  # and after materialisation
    plain = _plain_lenet(torch.float32)
    fast = speed_up(copy.deepcopy(plain))
    x = torch.rand(2, 1, 28, 28)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # falls back to the plain layers: bit for bit the same
        assert torch.equal(fast(x), plain(x))


def test_nchw_activations_take_the_plain_path():
    plain = _plain_lenet(torch.float64)
    fast = speed_up(copy.deepcopy(plain)).to(memory_format=torch.contiguous_format)
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    out = fast(x)
    assert not {"_SigmoidAvgPoolBackward", "_ConvNCHWInputGradBackward"} & _graph_nodes(out)
    _close(out, plain(x), 1e-10)


def test_nested_sequentials_and_other_models_are_untouched_otherwise():
    inner = nn.Sequential(nn.Sigmoid(), nn.AvgPool2d(2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = inner

        def forward(self, x):
            return self.body(x)

    net = speed_up(Net())
    assert type(net) is Net and isinstance(net.body, FastSequential)
    z = torch.randn(2, 3, 8, 8, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    out = net(z)
    assert "_SigmoidAvgPoolBackward" in _graph_nodes(out)
    _close(out, nn.functional.avg_pool2d(torch.sigmoid(z), 2), 1e-10)


def test_three_by_three_convs_keep_the_channels_last_input_gradient():
    """The NCHW input gradient is for LeNet's 5×5 conv only: for 3×3 nets (fast93, fastcnn) it is slower."""
    model = speed_up(build_model("fast93", (1, 28, 28), 10))
    x = torch.rand(4, 1, 28, 28).contiguous(memory_format=CL)
    assert "_ConvNCHWInputGradBackward" not in _graph_nodes(model(x))
    lenet = speed_up(build_model("lenet", (1, 28, 28), 10))
    assert "_ConvNCHWInputGradBackward" in _graph_nodes(lenet(x))
