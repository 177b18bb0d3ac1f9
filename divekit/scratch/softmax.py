"""Softmax regression from scratch (D2L §4.4) and Fashion-MNIST as plain tensors.

Model: ``y_hat = softmax(X.view(n, d) W + b)`` with ``W`` (d, q), ``b`` (q,), giving (n, q) probabilities.
Loss: ``-log y_hat[i, y_i]``, picked for every row at once with advanced indexing ``y_hat[range(n), y]``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from divekit.errors import DataError


def softmax_naive(X: Tensor) -> Tensor:
    """Row-wise ``exp(X_ij) / sum_k exp(X_ik)`` as written on paper; (n, q) -> (n, q).

    ``exp`` overflows for logits above ~88 (float32) or ~709 (float64): the result is then inf/inf = NaN.
    """
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(dim=1, keepdim=True)


def softmax(X: Tensor) -> Tensor:
    """Numerically stable row-wise softmax; (n, q) -> (n, q).

    ``softmax(x) = softmax(x - max(x))``: after subtracting the row maximum every exponent is <= 0,
    so nothing overflows and at least one term of the denominator is exactly 1.
    """
    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
    return X_exp / X_exp.sum(dim=1, keepdim=True)


def log_softmax(X: Tensor) -> Tensor:
    """Stable ``log softmax(X) = X - m - log sum exp(X - m)`` with ``m`` the row maximum; (n, q) -> (n, q)."""
    shifted = X - X.max(dim=1, keepdim=True).values
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def cross_entropy(y_hat: Tensor, y: Tensor) -> Tensor:
    """Per-example cross-entropy from probabilities: ``-log y_hat[i, y_i]``; (n, q), (n,) -> (n,).

    ``y_hat[range(n), y]`` selects, in row i, the probability given to the true class ``y_i``.
    """
    return -torch.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat: Tensor, y: Tensor) -> float:
    """Number of correct predictions: rows whose arg-max equals the label; (n, q), (n,) -> count."""
    if y_hat.dim() > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


class SoftmaxRegression(nn.Module):
    """Softmax regression on plain parameters: ``softmax(X.reshape(n, d) @ W + b)``.

    ``W`` has shape (num_inputs, num_outputs) (note: ``nn.Linear.weight`` is its transpose) and is
    drawn from ``N(0, sigma^2)``; ``b`` (num_outputs,) starts at zero. ``forward`` returns probabilities.
    """

    def __init__(self, num_inputs: int = 784, num_outputs: int = 10, sigma: float = 0.01) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.W = nn.Parameter(torch.normal(0.0, sigma, (num_inputs, num_outputs)))
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: Tensor) -> Tensor:
        return softmax(torch.matmul(X.reshape(-1, self.num_inputs), self.W) + self.b)


class LinearNet(nn.Module):
    """The concise twin: ``nn.Linear`` on images flattened with ``view``; returns logits (n, q).

    Pair it with ``nn.CrossEntropyLoss``, which applies a stable log-softmax itself.
    """

    def __init__(self, num_inputs: int = 784, num_outputs: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(num_inputs, num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.view(x.shape[0], -1))


_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def load_fashion_mnist_tensors(
    split: str = "train", root: str | os.PathLike | None = None
) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST as tensors: images float32 (N, 1, 28, 28) scaled to [0, 1], labels int64 (N,).

    Uses ``divekit.data.load_dataset`` when that module is available; otherwise reads the gzipped IDX
    files from ``root`` (default ``$DIVEKIT_DATA/fashion-mnist``) with a minimal reader.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: folder holding the four ``*-idx?-ubyte.gz`` files (bypasses ``divekit.data``).
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images = labels = None
    if root is None:
        try:
            from divekit.data import load_dataset
        except ImportError:
            load_dataset = None
        if load_dataset is not None:
            ds = load_dataset("fashion-mnist", split=split)
            images, labels = ds.images, ds.labels
    if images is None:
        images, labels = _read_idx_pair(_fashion_root(root), split)
    return (images.to(torch.float32) / 255.0).reshape(-1, 1, 28, 28), labels.to(torch.int64)


def _fashion_root(root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root)
    base = os.environ.get("DIVEKIT_DATA")
    if not base:
        raise DataError(
            "Fashion-MNIST not found: set DIVEKIT_DATA to a folder holding fashion-mnist/ "
            "with the four *-idx?-ubyte.gz files"
        )
    return Path(base) / "fashion-mnist"


def _read_idx_pair(root: Path, split: str) -> tuple[Tensor, Tensor]:
    """Read one split: IDX headers are 16 bytes (images, magic 2051) or 8 (labels, 2049), then uint8 data."""
    import numpy as np

    arrays = []
    for name, offset, magic in zip(_FILES[split], (16, 8), (2051, 2049), strict=True):
        path = root / name
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise DataError(f"{path}: file not found (expected the Fashion-MNIST {split} split)") from None
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a readable gzip file ({e})") from None
        if len(raw) < offset or int.from_bytes(raw[:4], "big") != magic:
            raise DataError(f"{path}: not an IDX file (expected magic number {magic} in the first 4 bytes)")
        arrays.append(np.frombuffer(raw, dtype=np.uint8, offset=offset))
    images, labels = arrays
    if images.size != labels.size * 28 * 28:
        raise DataError(
            f"{root}: {split} images hold {images.size} bytes, "
            f"expected 28*28 per label ({labels.size} labels)"
        )
    return torch.from_numpy(images.copy()).reshape(-1, 1, 28, 28), torch.from_numpy(labels.astype(np.int64))


FASHION_MNIST_CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
