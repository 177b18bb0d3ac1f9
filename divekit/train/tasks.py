"""Which pipeline runs a dataset: image classification (default), tabular regression, text.

``divekit train``, ``eval`` and ``predict`` look the runner up here, so a new kind of data plugs in with
one line. Entries are ``"module:function"`` strings, imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# dataset name -> kind
DATASET_KINDS: dict[str, str] = {"house-prices": "tabular", "imdb": "text"}
# kind -> "module:function" with signature fn(config, runs_dir, name, callbacks) -> (run_dir, state)
TRAINERS: dict[str, str] = {"image": "divekit.train.run:train_run",
                             "tabular": "divekit.train.tabular:train_tabular_run",
                             "text": "divekit.train.text:train_text_run"}
# kind -> "module:function" with signature fn(args) -> int, for `divekit predict`
PREDICTORS: dict[str, str] = {"image": "divekit.train.cli_predict:predict_images",
                               "tabular": "divekit.train.tabular:predict_tabular",
                               "text": "divekit.train.text:predict_text"}


def kind_of(dataset: str) -> str:
    """The kind of a dataset name or path (anything unknown is treated as IDX images)."""
    if dataset.endswith(".csv"):
        return "tabular"
    return DATASET_KINDS.get(dataset, "image")


def _load(ref: str) -> Callable:
    module, _, fn = ref.partition(":")
    return getattr(importlib.import_module(module), fn)


def trainer_for(kind: str) -> Callable:
    from divekit.errors import ConfigError

    if kind not in TRAINERS:
        raise ConfigError(f"no training pipeline for {kind} data yet")
    return _load(TRAINERS[kind])


def predictor_for(kind: str) -> Callable:
    from divekit.errors import ConfigError

    if kind not in PREDICTORS:
        raise ConfigError(f"no prediction pipeline for {kind} data yet")
    return _load(PREDICTORS[kind])
