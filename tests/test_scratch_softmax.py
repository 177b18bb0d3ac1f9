"""Softmax regression from scratch: stability, cross-entropy by indexing, Fashion-MNIST training."""

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from divekit.errors import DataError
from divekit.scratch.linear import sgd
from divekit.scratch.softmax import (
    LinearNet,
    SoftmaxRegression,
    accuracy,
    cross_entropy,
    load_fashion_mnist_tensors,
    log_softmax,
    softmax,
    softmax_naive,
)
from divekit.scratch.training import evaluate_accuracy, train_classifier

TOL = 1e-12


def test_softmax_matches_torch_values_and_gradients():
    torch.manual_seed(0)
    X = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    X2 = X.detach().clone().requires_grad_(True)
    w = torch.randn(5, 7, dtype=torch.float64)
    ours, theirs = softmax(X), torch.softmax(X2, dim=1)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=TOL)
    torch.testing.assert_close(softmax_naive(X.detach()), theirs.detach(), rtol=0, atol=TOL)
    (ours * w).sum().backward()
    (theirs * w).sum().backward()
    torch.testing.assert_close(X.grad, X2.grad, rtol=0, atol=TOL)
    torch.testing.assert_close(log_softmax(X.detach()), F.log_softmax(X2.detach(), 1), rtol=0, atol=TOL)


@pytest.mark.parametrize("scale", [100.0, 1000.0])
def test_naive_softmax_overflows_stable_one_does_not(scale):
    logits = torch.tensor([[scale, 0.0, -scale], [scale, scale, 1.0]], dtype=torch.float32)
    naive = softmax_naive(logits)
    assert not torch.isfinite(naive).all()  # exp(100) and exp(1000) overflow float32: inf / inf = nan
    stable = softmax(logits)
    torch.testing.assert_close(stable, torch.softmax(logits, dim=1), rtol=0, atol=1e-7)
    assert torch.allclose(stable.sum(1), torch.ones(2))
    # in float64 exp(1000) still overflows while the stable version is exact
    l64 = logits.double()
    assert torch.isfinite(softmax_naive(l64)).all() == (scale < 700)
    torch.testing.assert_close(softmax(l64), torch.softmax(l64, 1), rtol=0, atol=TOL)


def test_cross_entropy_by_indexing_and_accuracy():
    torch.manual_seed(1)
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    logits2 = logits.detach().clone().requires_grad_(True)
    y = torch.tensor([0, 3, 1, 1, 2, 0])
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert cross_entropy(y_hat, torch.tensor([0, 2])).tolist() == pytest.approx([-np.log(0.1), -np.log(0.5)])
    ours = cross_entropy(softmax(logits), y).mean()
    theirs = F.cross_entropy(logits2, y)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=TOL)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(logits.grad, logits2.grad, rtol=0, atol=TOL)
    assert accuracy(y_hat, torch.tensor([0, 2])) == 1.0
    assert accuracy(logits.detach(), y) == float((logits.argmax(1) == y).sum())


def test_softmax_regression_equals_linear_net_with_the_same_weights():
    torch.manual_seed(2)
    ours = SoftmaxRegression(12, 3).double()
    net = LinearNet(12, 3).double()
    with torch.no_grad():
        ours.W.normal_()
        net.linear.weight.copy_(ours.W.T)
        net.linear.bias.copy_(ours.b)
    X = torch.randn(5, 1, 3, 4, dtype=torch.float64)  # flattened with view to (5, 12)
    torch.testing.assert_close(ours(X), torch.softmax(net(X), dim=1), rtol=0, atol=TOL)
    y = torch.tensor([0, 1, 2, 1, 0])
    cross_entropy(ours(X), y).mean().backward()
    F.cross_entropy(net(X), y).backward()
    torch.testing.assert_close(ours.W.grad, net.linear.weight.grad.T, rtol=0, atol=TOL)
    torch.testing.assert_close(ours.b.grad, net.linear.bias.grad, rtol=0, atol=TOL)


def _write_idx(path, magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + payload)


def test_fallback_idx_reader_reads_tiny_files_and_reports_problems(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", 2051, (2, 28, 28), images.tobytes())
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, (2,), bytes([7, 3]))
    X, y = load_fashion_mnist_tensors("test", root=tmp_path)
    assert X.shape == (2, 1, 28, 28) and X.dtype == torch.float32 and y.tolist() == [7, 3]
    assert float(X[0, 0, 0, 1]) == pytest.approx(1 / 255)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: file not found"):
        load_fashion_mnist_tensors("train", root=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist_tensors("valid", root=tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2051, (2,), bytes([7, 3]))  # wrong magic
    with pytest.raises(DataError, match="magic number 2049"):
        load_fashion_mnist_tensors("test", root=tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a readable gzip file"):
        load_fashion_mnist_tensors("test", root=tmp_path)


@pytest.fixture(scope="module")
def fashion_mnist():
    # tests/conftest.py sets DIVEKIT_DATA to ../shared/datasets when unset; do the same here, temporarily
    default = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("DIVEKIT_DATA"):
            mp.setenv("DIVEKIT_DATA", str(default))
        if not (Path(os.environ["DIVEKIT_DATA"]) / "fashion-mnist").is_dir():
            pytest.skip("Fashion-MNIST not found under $DIVEKIT_DATA/fashion-mnist")
        return load_fashion_mnist_tensors("train"), load_fashion_mnist_tensors("test")


def test_fashion_mnist_tensors(fashion_mnist):
    (X, y), (Xt, yt) = fashion_mnist
    assert X.shape == (60000, 1, 28, 28) and Xt.shape == (10000, 1, 28, 28)
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    assert torch.bincount(y).tolist() == [6000] * 10 and torch.bincount(yt).tolist() == [1000] * 10


def test_softmax_regression_reaches_book_accuracy_on_fashion_mnist(fashion_mnist):
    # book §4.4: lr 0.1, batch 256, 10 epochs -> test accuracy about 0.83-0.85
    torch.manual_seed(0)
    train, test = fashion_mnist
    net = SoftmaxRegression(784, 10)
    assert evaluate_accuracy(net, *test) < 0.3
    start = time.perf_counter()
    history = train_classifier(
        net,
        cross_entropy,
        lambda bs: sgd(net.parameters(), 0.1, bs),
        train,
        test,
        num_epochs=10,
        generator=torch.Generator().manual_seed(0),
        log=None,
    )
    assert time.perf_counter() - start < 60
    assert history[-1]["loss"] < history[0]["loss"]
    assert 0.81 <= history[-1]["test_acc"] <= 0.87
