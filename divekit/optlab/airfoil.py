"""NASA airfoil self-noise regression: data loading and the book's ``train_ch11`` minibatch loop.

A linear model ``y_hat = X w + b`` (X: (batch, 5), w: (5, 1)) is fitted with the squared loss
``(y_hat - y)^2 / 2``. The same loop runs a lab update rule (``lab_trainer``) or its
``torch.optim`` twin (``torch_trainer``); with the same seed both see the same initial weights
and the same minibatches, so their loss curves can be compared point by point.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from divekit.errors import ConfigError, DataError
from divekit.optlab.rules import RULES, torch_twin

AIRFOIL_FILE = "airfoil_self_noise.dat"
AIRFOIL_SUBDIR = "d2l-misc"
AIRFOIL_URL = "http://d2l-data.s3-accelerate.amazonaws.com/airfoil_self_noise.dat"
AIRFOIL_SHA1 = "76e5be1548fd8222e5074cf0faae75edff8cf93f"


class Curve(NamedTuple):
    """One training run: ``times`` (s of training, evaluation excluded) and ``losses`` at each
    evaluation, like the book's ``(timer.cumsum(), losses)``, plus the ``epochs`` of those
    evaluations and the final ``params``."""

    times: list[float]
    losses: list[float]
    epochs: list[float]
    params: tuple[torch.Tensor, ...]


def airfoil_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Locate ``airfoil_self_noise.dat`` under ``data_dir``, else ``$DIVEKIT_DATA``, else ``./data``.

    Both ``<dir>/d2l-misc/airfoil_self_noise.dat`` and ``<dir>/airfoil_self_noise.dat`` are accepted.
    """
    root = Path(data_dir or os.environ.get("DIVEKIT_DATA") or "data")
    candidates = [root / AIRFOIL_SUBDIR / AIRFOIL_FILE, root / AIRFOIL_FILE]
    for path in candidates:
        if path.is_file():
            return path
    tried = " and ".join(str(p.resolve()) for p in candidates)
    raise DataError(
        f"airfoil data not found: tried {tried}. Download {AIRFOIL_URL} (sha1 {AIRFOIL_SHA1}; "
        f"also the UCI 'Airfoil Self-Noise' data set) to {candidates[0].resolve()}, "
        "or point --data-dir or $DIVEKIT_DATA at the folder that holds d2l-misc/airfoil_self_noise.dat"
    )


def load_airfoil(path: str | os.PathLike) -> np.ndarray:
    """The raw airfoil table, float64 of shape (rows, 6): five features, then the sound level (dB)."""
    path = Path(path)
    try:
        data = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    except FileNotFoundError:
        raise DataError(f"{path.resolve()}: file not found") from None
    except ValueError as e:
        raise DataError(f"{path.resolve()}: expected tab-separated numbers, 6 per line ({e})") from None
    except OSError as e:  # a folder, no permission, an I/O error
        raise DataError(f"{path.resolve()}: cannot read ({e.strerror or e})") from None
    if data.shape[1] != 6 or data.shape[0] < 2 or not np.isfinite(data).all():
        raise DataError(
            f"{path.resolve()}: expected at least 2 rows of 6 finite numbers, got shape {data.shape}"
        )
    return data


class ArrayLoader:
    """Minibatches ``(X[idx], y[idx])`` of in-memory tensors, reshuffled (global torch RNG) per pass.

    Much cheaper than a ``DataLoader`` for batch size 1; ``tensors`` lets the loss be evaluated on
    the whole data in one go.
    """

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = True):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size}")
        self.tensors = (features, labels)
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self):
        X, y = self.tensors
        idx = torch.randperm(len(X)) if self.shuffle else torch.arange(len(X))
        for i in range(0, len(X), self.batch_size):
            j = idx[i:i + self.batch_size]
            yield X[j], y[j]


def get_data_ch11(batch_size: int = 10, n: int = 1500, *, data: np.ndarray | None = None,
                  data_dir: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32):
    """The book's ``get_data_ch11``: standardised airfoil data as ``(data_iter, feature_dim)``.

    Every column (target included) becomes ``(x - mean) / std`` over all rows, as in the book,
    then the first ``n`` rows are kept: X (n, 5), y (n,). ``data`` is a pre-loaded raw table.
    """
    raw = load_airfoil(airfoil_path(data_dir)) if data is None else data
    if not 1 <= n <= len(raw):
        raise ConfigError(f"n must be between 1 and {len(raw)} (rows in the airfoil data), got {n}")
    std = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    t = torch.as_tensor(std[:n], dtype=dtype)
    return ArrayLoader(t[:, :-1], t[:, -1], batch_size), t.shape[1] - 1


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Elementwise ``(y_hat - y)^2 / 2`` with y reshaped like y_hat."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def evaluate_loss(net: Callable, data_iter: Iterable, loss: Callable) -> float:
    """Mean loss over all examples of ``data_iter`` (in one batch when it exposes ``tensors``)."""
    dataset = getattr(data_iter, "dataset", None)  # a DataLoader over a TensorDataset
    tensors = getattr(data_iter, "tensors", None) or getattr(dataset, "tensors", None)
    with torch.no_grad():
        if tensors is not None:
            return float(loss(net(tensors[0]), tensors[1]).mean())
        total, count = 0.0, 0
        for X, y in data_iter:
            l = loss(net(X), y)
            total, count = total + float(l.sum()), count + l.numel()
        return total / count


def _fit(net: Callable, params: list[torch.Tensor], step: Callable[[], None], data_iter, loss: Callable,
         num_epochs: int, eval_every: int, report_scale: float = 1.0) -> Curve:
    """The shared loop: mean loss, backward, ``step()``; every ``eval_every`` examples record the
    full-data loss (times ``report_scale``), the epoch and the training time so far."""
    times, losses, epochs = [], [], []
    seen, batches, elapsed = 0, 0, 0.0
    start = time.perf_counter()
    for _ in range(num_epochs):
        for X, y in data_iter:
            loss(net(X), y).mean().backward()
            step()
            seen, batches = seen + X.shape[0], batches + 1
            if seen % eval_every == 0:
                elapsed += time.perf_counter() - start
                times.append(elapsed)
                losses.append(report_scale * evaluate_loss(net, data_iter, loss))
                epochs.append(batches / len(data_iter))
                start = time.perf_counter()
    return Curve(times, losses, epochs, tuple(p.detach().clone() for p in params))


def train_ch11(trainer_fn: Callable, states: list | None, hyperparams: dict[str, Any], data_iter,
               feature_dim: int, num_epochs: int = 2, *, eval_every: int = 200,
               seed: int | None = None) -> Curve:
    """The book's ``train_ch11``: linear regression trained by ``trainer_fn(params, states, hyperparams)``.

    w ~ N(0, 0.01^2) of shape (feature_dim, 1), b = 0; ``states`` is a list with one entry per
    parameter (None: fresh). ``seed`` seeds torch's global RNG first (initial w and batch order).
    """
    if seed is not None:
        torch.manual_seed(seed)
    tensors = getattr(data_iter, "tensors", None)
    dtype = tensors[0].dtype if tensors is not None else torch.get_default_dtype()
    w = (torch.randn(feature_dim, 1, dtype=dtype) * 0.01).requires_grad_()
    b = torch.zeros(1, dtype=dtype, requires_grad=True)
    states = [None, None] if states is None else states

    def net(X):
        return X @ w + b

    return _fit(net, [w, b], lambda: trainer_fn([w, b], states, hyperparams), data_iter, squared_loss,
                num_epochs, eval_every)


def train_concise_ch11(trainer_fn: Callable, hyperparams: dict[str, Any], data_iter, num_epochs: int = 4, *,
                       eval_every: int = 200, seed: int | None = None) -> Curve:
    """The book's ``train_concise_ch11``: ``nn.Linear`` + a ``torch.optim`` class + ``nn.MSELoss``.

    As in the book the gradient is that of the mean squared error (no 1/2, so plain SGD takes
    twice the step of ``train_ch11``) while the reported loss is halved to be comparable.
    """
    if seed is not None:
        torch.manual_seed(seed)
    tensors = getattr(data_iter, "tensors", None)
    X = tensors[0] if tensors is not None else next(iter(data_iter))[0]
    net = torch.nn.Linear(X.shape[1], 1).to(X.dtype)
    torch.nn.init.normal_(net.weight, std=0.01)
    optimizer = trainer_fn(net.parameters(), **hyperparams)

    def step():
        optimizer.step()
        optimizer.zero_grad()

    mse = torch.nn.MSELoss(reduction="none")
    def loss(y_hat, y):
        return mse(y_hat, y.reshape(y_hat.shape))

    return _fit(net, list(net.parameters()), step, data_iter, loss, num_epochs, eval_every, report_scale=0.5)


def lab_trainer(rule: str | Callable) -> Callable:
    """A book-style ``trainer_fn(params, states, hyperparams)`` applying a pure rule of ``rules.py``
    to each parameter; the new states replace the old ones in the ``states`` list."""
    step = RULES[rule] if isinstance(rule, str) else rule

    def trainer_fn(params, states, hyperparams):
        with torch.no_grad():
            for i, p in enumerate(params):
                new_p, states[i] = step(p, p.grad, states[i], **hyperparams)
                p.copy_(new_p)
                p.grad = None  # a fresh gradient next step; the rule may keep the old one as state
    return trainer_fn


def torch_trainer(name: str) -> Callable:
    """The torch.optim twin of rule ``name`` as a book-style trainer (``states[0]`` holds the optimizer)."""

    def trainer_fn(params, states, hyperparams):
        opt = states[0]
        if not isinstance(opt, torch.optim.Optimizer) or opt.param_groups[0]["params"][0] is not params[0]:
            opt = states[0] = torch_twin(name, params, hyperparams)
        opt.step()
        opt.zero_grad()
    return trainer_fn


def train_sgd(lr: float, batch_size: int, num_epochs: int = 2, *, data: np.ndarray | None = None,
              data_dir: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32,
              seed: int | None = None, twin: bool = False) -> Curve:
    """The book's ``train_sgd``: minibatch SGD on the airfoil data (``twin``: through ``torch.optim.SGD``)."""
    data_iter, feature_dim = get_data_ch11(batch_size, data=data, data_dir=data_dir, dtype=dtype)
    trainer = torch_trainer("sgd") if twin else lab_trainer("sgd")
    return train_ch11(trainer, None, {"lr": lr}, data_iter, feature_dim, num_epochs, seed=seed)


# The book's runs (sections 11.5-11.10): label -> (rule, hyperparameters, batch size, epochs)
SGD_RUNS: dict[str, tuple[str, dict, int, int]] = {
    "gd (batch 1500)": ("sgd", {"lr": 1.0}, 1500, 10),
    "sgd (batch 1)": ("sgd", {"lr": 0.005}, 1, 2),
    "minibatch 100": ("sgd", {"lr": 0.4}, 100, 2),
    "minibatch 10": ("sgd", {"lr": 0.05}, 10, 2),
}
OPTIMIZER_RUNS: dict[str, tuple[str, dict, int, int]] = {
    "momentum": ("momentum", {"lr": 0.02, "momentum": 0.5}, 10, 2),
    "adagrad": ("adagrad", {"lr": 0.1}, 10, 2),
    "rmsprop": ("rmsprop", {"lr": 0.01, "gamma": 0.9}, 10, 2),
    "adadelta": ("adadelta", {"rho": 0.9}, 10, 2),
    "adam": ("adam", {"lr": 0.01}, 10, 2),
}


def run_pair(rule: str, hyperparams: dict, batch_size: int, num_epochs: int, data: np.ndarray,
             dtype: torch.dtype = torch.float32, seed: int = 0) -> dict[str, Curve]:
    """``{'lab': Curve, 'torch': Curve}``: one run of a lab rule and of its ``torch.optim`` twin,
    with the same seed (same initial weights, same minibatches)."""
    data_iter, feature_dim = get_data_ch11(batch_size, data=data, dtype=dtype)
    return {
        kind: train_ch11(trainer(rule), None, hyperparams, data_iter, feature_dim, num_epochs, seed=seed)
        for kind, trainer in (("lab", lab_trainer), ("torch", torch_trainer))
    }


def compare_airfoil(data: np.ndarray, runs: dict[str, tuple[str, dict, int, int]] | None = None,
                    dtype: torch.dtype = torch.float32, seed: int = 0) -> dict[str, dict[str, Curve]]:
    """Every run of ``runs`` (default: the book's SGD and optimizer runs) as a lab/torch pair."""
    runs = {**SGD_RUNS, **OPTIMIZER_RUNS} if runs is None else runs
    _warm_up(runs, data, dtype)
    return {label: run_pair(*spec, data=data, dtype=dtype, seed=seed) for label, spec in runs.items()}



def _warm_up(runs: dict[str, tuple[str, dict, int, int]], data: np.ndarray, dtype: torch.dtype) -> None:
    """A throwaway pass of each rule, lab and torch (20 rows), so one-time set-up costs (lazy imports
    in torch.optim, first kernel calls) stay out of the timings."""
    data_iter, feature_dim = get_data_ch11(10, n=min(20, len(data)), data=data, dtype=dtype)
    for rule, hyperparams, _, _ in runs.values():
        for trainer in (lab_trainer, torch_trainer):
            train_ch11(trainer(rule), None, hyperparams, data_iter, feature_dim, 1, eval_every=10)
