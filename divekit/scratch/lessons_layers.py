"""Lessons: batch normalisation, convolution and pooling, recurrent cells (book chapters 7-10)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from divekit.report.plots import pyplot, save_figure
from divekit.scratch import conv as cv
from divekit.scratch import rnn as rn
from divekit.scratch.batchnorm import BatchNorm
from divekit.scratch.optimizers import Adam
from divekit.scratch.training import fashion_mnist, fit_fashion_mnist, logits_loss


def _max_diff(a: Tensor, b: Tensor) -> float:
    return float((a - b).detach().abs().max())


class BNMLP(nn.Module):
    """784-120-84-10 with batch norm before each sigmoid (the dense half of the book's BN-LeNet).

    Weights ``Wk`` are (fan_in, fan_out) Xavier-normal draws, biases zero; ``batch_norm=False`` drops BN.
    """

    def __init__(self, batch_norm: bool = True, sizes: tuple[int, ...] = (784, 120, 84, 10)) -> None:
        super().__init__()
        self.Ws = nn.ParameterList(
            [
                nn.Parameter(torch.randn(i, o) * (2 / (i + o)) ** 0.5)
                for i, o in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )
        self.bs = nn.ParameterList([nn.Parameter(torch.zeros(o)) for o in sizes[1:]])
        self.bns = nn.ModuleList([BatchNorm(o, 2) for o in sizes[1:-1]] if batch_norm else [])

    def forward(self, X: Tensor) -> Tensor:
        H = X.reshape(len(X), -1)
        for k, (W, b) in enumerate(zip(self.Ws, self.bs, strict=True)):
            H = H @ W + b
            if k < len(self.Ws) - 1:
                H = torch.sigmoid(self.bns[k](H) if self.bns else H)
        return H


def _compare_with_torch() -> dict[str, float]:
    """Max differences with ``nn.BatchNorm1d/2d`` over 3 training steps and one evaluation, in float64."""
    out = {}
    for name, shape, ref_cls in (("1d", (32, 6), nn.BatchNorm1d), ("2d", (8, 4, 5, 5), nn.BatchNorm2d)):
        ours, ref = BatchNorm(shape[1], len(shape)).double(), ref_cls(shape[1]).double()
        diff = 0.0
        for _ in range(3):
            X = torch.randn(shape, dtype=torch.float64) * 2 + 1
            diff = max(diff, _max_diff(ours(X), ref(X)))
        running = max(
            _max_diff(ours.moving_mean.reshape(-1), ref.running_mean),
            _max_diff(ours.moving_var.reshape(-1), ref.running_var),
        )
        ours.eval()
        ref.eval()
        X = torch.randn(shape, dtype=torch.float64)
        out[name] = {"train": diff, "running_stats": running, "eval": _max_diff(ours(X), ref(X))}
        print(
            f"BatchNorm{name} max |ours - torch|: train {diff:.1e}, running stats {running:.1e}, "
            f"eval {out[name]['eval']:.1e}"
        )
    return out


def batchnorm(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §8.5: compare with ``nn.BatchNorm``; train a sigmoid MLP with and without BN (lr 1, batch 256)."""
    torch.manual_seed(seed)
    summary = {"vs_torch": _compare_with_torch()}
    epochs = epochs or 5
    data = fashion_mnist()
    for use_bn in (True, False):
        label = "with" if use_bn else "without"
        print(f"-- sigmoid MLP 784-120-84-10 {label} batch norm, lr 1.0")
        torch.manual_seed(seed)
        net = BNMLP(batch_norm=use_bn)
        summary[f"{label}_bn"] = fit_fashion_mnist(
            net, logits_loss, 1.0, epochs, seed, run_dir, f"mlp-{label}-bn", f"sigmoid MLP {label} BN", data
        )
        if use_bn:
            gamma, beta = (
                [round(v, 3) for v in t.detach().reshape(-1)[:4].tolist()]
                for t in (net.bns[0].gamma, net.bns[0].beta)
            )
            print(f"first BN layer: gamma[:4] {gamma}, beta[:4] {beta}")
    return summary


def conv(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Book §7.2-7.5: corr2d, edge detection and learning its kernel, output shapes, channels, pooling."""
    torch.manual_seed(seed)
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.arange(4.0).reshape(2, 2)
    print(f"corr2d(arange(9) as 3x3, arange(4) as 2x2) = {cv.corr2d(X, K).tolist()}  (book: 19 25 / 37 43)")
    img, Y, K_hat, losses = _edge_detection(epochs or 10)
    shapes = _shapes_and_channels()
    print(
        f"max pool 2x2 (stride 1) of arange(9): {cv.pool2d(X[None], 2, 1, mode='max')[0].tolist()}, "
        f"avg pool: {cv.pool2d(X[None], 2, 1, mode='avg')[0].tolist()}"
    )
    diffs = _conv_vs_torch()
    save_figure(_plot_edges(img, Y, K_hat), run_dir / "edge-detection.png")
    return {
        "losses": losses,
        "learned_kernel": K_hat.reshape(-1).tolist(),
        "shapes": shapes,
        "vs_torch": diffs,
    }


def _edge_detection(epochs: int) -> tuple[Tensor, Tensor, Tensor, list[float]]:
    """Detect vertical edges with ``[1, -1]``, then learn that kernel back from (X, Y) by gradient descent."""
    img = torch.ones(6, 8)
    img[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    Y = cv.corr2d(img, K)
    print(f"edge detector [1, -1] on a 6x8 image with a dark middle, row 0 of Y: {Y[0].tolist()}")
    n_zero = int(torch.count_nonzero(cv.corr2d(img.t(), K)))
    print(f"on the transposed image (horizontal edges) it sees nothing: {n_zero} non-zeros")
    K_hat = torch.randn(1, 2, requires_grad=True)
    losses = []
    for i in range(epochs):  # book: 10 steps, lr 3e-2, squared error summed over pixels
        loss = ((cv.corr2d(img, K_hat) - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            K_hat -= 3e-2 * K_hat.grad
            K_hat.grad.zero_()
        losses.append(float(loss.detach()))
        if (i + 1) % 2 == 0:
            print(f"epoch {i + 1}, loss {losses[-1]:.3f}")
    print(f"learned kernel {[round(v, 4) for v in K_hat.detach().reshape(-1).tolist()]} (true [1, -1])")
    return img, Y, K_hat.detach(), losses


def _shapes_and_channels() -> dict[str, list[int]]:
    """Output shapes for an 8x8 input with the book's paddings and strides, and a two-channel example."""
    print("output shapes for an 8x8 input (book §7.3):")
    X8 = torch.rand(1, 1, 8, 8)
    shapes = {}
    for k, p, s in (((3, 3), 1, 1), ((5, 3), (2, 1), 1), ((3, 3), 1, 2), ((3, 5), (0, 1), (3, 4))):
        shape = list(cv.conv2d(X8, torch.rand(1, 1, *k), padding=p, stride=s).shape[2:])
        shapes[f"kernel {k} padding {p} stride {s}"] = shape
        print(f"  kernel {k}, padding {p}, stride {s}: {tuple(shape)}")
    X2 = torch.stack([torch.arange(9.0).reshape(3, 3), torch.arange(1.0, 10.0).reshape(3, 3)])
    K2 = torch.stack([torch.arange(4.0).reshape(2, 2), torch.arange(1.0, 5.0).reshape(2, 2)])
    print(f"two input channels (book §7.4.1): {cv.corr2d_multi_in(X2, K2).tolist()}")
    return shapes


def _conv_vs_torch() -> dict[str, float]:
    import torch.nn.functional as F

    X, K, b = (
        torch.randn(2, 3, 9, 9, dtype=torch.float64),
        torch.randn(4, 3, 3, 3, dtype=torch.float64),
        torch.randn(4, dtype=torch.float64),
    )
    diffs = {
        "conv2d": _max_diff(cv.conv2d(X, K, b, stride=2, padding=1), F.conv2d(X, K, b, stride=2, padding=1)),
        "max_pool2d": _max_diff(cv.pool2d(X, 3, 2, 1, "max"), F.max_pool2d(X, 3, 2, 1)),
        "avg_pool2d": _max_diff(cv.pool2d(X, 3, 2, 1, "avg"), F.avg_pool2d(X, 3, 2, 1)),
    }
    print("max |ours - torch| (float64): " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return diffs


def _plot_edges(img: Tensor, Y: Tensor, K_hat: Tensor):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
    for ax, (title, data) in zip(
        axes, (("X", img), ("Y = corr2d(X, [1, -1])", Y), ("learned kernel", K_hat)), strict=True
    ):
        im = ax.imshow(data.numpy(), cmap="coolwarm", vmin=-1, vmax=1)
        ax.set_title(title)
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig


def rnn(run_dir: Path, seed: int = 0, epochs: int | None = None) -> dict:
    """Compare RNN/GRU/LSTM cells with torch (both layouts), then fit a scratch LSTM to a noisy sine wave."""
    torch.manual_seed(seed)
    diffs = {}
    for kind, cls in (("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)):
        for batch_first in (False, True):
            module = cls(3, 5, batch_first=batch_first).double()
            X = torch.randn(4, 6, 3, dtype=torch.float64)
            ours, _ = rn.run(kind, X, None, rn.params_from_torch(module), batch_first=batch_first)
            diffs[f"{kind} batch_first={batch_first}"] = _max_diff(ours, module(X)[0])
    print("max |ours - torch| of the outputs (float64):")
    for k, v in diffs.items():
        print(f"  {k}: {v:.1e}")

    # a sine wave with noise (book §9.1); predict x_{t+1} from x_1..x_t along windows of 50 steps
    time_ = torch.arange(1, 1001, dtype=torch.float32)
    x = torch.sin(0.01 * time_) + torch.normal(0, 0.2, (1000,))
    windows = x.unfold(0, 51, 1)  # (950, 51)
    inputs, targets = windows[:, :-1, None], windows[:, 1:, None]
    print("LSTM from scratch (16 hidden units), scratch Adam lr 0.01; the noise variance 0.04 is the floor:")
    model = rn.RNNModel("lstm", 1, 16, 1)
    opt = Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(1, (epochs or 10) + 1):
        perm = torch.randperm(len(inputs))
        total = 0.0
        for i in range(0, len(perm), 64):
            j = perm[i : i + 64]
            opt.zero_grad()
            loss = ((model(inputs[j]) - targets[j]) ** 2).mean()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(j)
        losses.append(total / len(perm))
        print(f"epoch {epoch}, loss {losses[-1]:.4f}")

    with torch.no_grad():
        pred = model(x[None, :-1, None])[0, :, 0]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(time_, x, lw=0.6, label="data")
    ax.plot(time_[1:], pred, label="LSTM one-step prediction")
    ax.set(xlabel="time", title="LSTM from scratch on a noisy sine wave")
    ax.legend()
    save_figure(fig, run_dir / "lstm-sine.png")
    return {"vs_torch": diffs, "losses": losses}
