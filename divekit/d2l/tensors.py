"""The book's framework-neutral tensor aliases (``d2l.reshape``, ``d2l.reduce_sum`` …) for PyTorch."""

from __future__ import annotations

import numpy as np
import torch

ones, zeros, arange, meshgrid = torch.ones, torch.zeros, torch.arange, torch.meshgrid
sin, sinh, cos, cosh, tanh = torch.sin, torch.sinh, torch.cos, torch.cosh, torch.tanh
linspace, exp, log, normal, rand = torch.linspace, torch.exp, torch.log, torch.normal, torch.rand
matmul, int32, float32, concat, stack, abs, eye = (torch.matmul, torch.int32, torch.float32, torch.cat,
                                                   torch.stack, torch.abs, torch.eye)
# names the 1.0 edition adds
ones_like, zeros_like, randn, int64, sigmoid, batch_matmul = (torch.ones_like, torch.zeros_like, torch.randn,
                                                              torch.int64, torch.sigmoid, torch.bmm)
nn_Module = torch.nn.Module


def tensor(data, *args, **kwargs) -> torch.Tensor:
    """``torch.tensor``, also for numpy object arrays of numbers and booleans.

    pandas ≥ 2 makes ``get_dummies`` columns ``bool``, so ``DataFrame.values`` of a mixed frame is an object
    array that ``torch.tensor`` refuses; the book's Kaggle chapter passes exactly that.
    """
    if isinstance(data, np.ndarray) and data.dtype == object:
        data = data.astype(np.float64)
    return torch.tensor(data, *args, **kwargs)


def numpy(x: torch.Tensor, *args, **kwargs) -> np.ndarray:
    """Detached numpy copy of ``x``."""
    return x.detach().numpy(*args, **kwargs)


def size(x: torch.Tensor, *args, **kwargs) -> int:
    """Number of elements of ``x``."""
    return x.numel(*args, **kwargs)


def reshape(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.reshape(*args, **kwargs)


def to(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.to(*args, **kwargs)


def reduce_sum(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.sum(*args, **kwargs)


def reduce_mean(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.mean(*args, **kwargs)


def argmax(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.argmax(*args, **kwargs)


def astype(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.type(*args, **kwargs)


def transpose(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.t(*args, **kwargs)


def expand_dims(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.unsqueeze(*args, **kwargs)


def swapaxes(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.swapaxes(*args, **kwargs)


def repeat(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return x.repeat(*args, **kwargs)
