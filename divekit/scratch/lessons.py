"""Registry of the from-scratch lessons run by ``divekit scratch LESSON`` (no torch import here).

Each lesson is a function ``lesson(run_dir, seed, epochs) -> dict``, named like the lesson, in one of the
``divekit.scratch.lessons_*`` modules. It prints what the book shows, saves its figures into ``run_dir``
and returns a JSON-able summary; ``epochs=None`` means the lesson's own default.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# lesson name -> (module under divekit.scratch, one-line description)
LESSONS: dict[str, tuple[str, str]] = {
    "linreg": ("lessons_fit", "linear regression from scratch and with nn.Linear (§3.2-3.3)"),
    "softmax": ("lessons_fit", "softmax regression on Fashion-MNIST, stable softmax (§4.4)"),
    "mlp": ("lessons_fit", "multilayer perceptron and activation functions (§5.1-5.2)"),
    "dropout": ("lessons_fit", "inverted dropout in an MLP (§5.6)"),
    "overfit": ("lessons_overfit", "under- and over-fitting: polynomial regression, train vs valid (§4.4)"),
    "batchnorm": ("lessons_layers", "batch normalisation vs nn.BatchNorm1d/2d (§8.5)"),
    "conv": ("lessons_layers", "cross-correlation, padding, stride, channels, pooling (§7.2-7.5)"),
    "rnn": ("lessons_layers", "RNN, GRU and LSTM cells vs nn.RNN/GRU/LSTM (§9.5, §10.1-10.2)"),
    "init": ("lessons_tuning", "initialisation: symmetry, Xavier, Kaiming, net.apply (§5.4)"),
    "optimizers": ("lessons_tuning", "SGD, momentum ... Adam, AdamW from scratch vs torch.optim (ch. 12)"),
}


def get(name: str) -> Callable:
    """The lesson function called ``name`` (imports its module, and torch, on demand)."""
    module, _ = LESSONS[name]
    return getattr(importlib.import_module(f"divekit.scratch.{module}"), name)
