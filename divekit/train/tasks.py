"""Which pipeline runs a dataset: image classification (default), tabular regression, text.

``divekit train``, ``eval`` and ``predict`` look the runner up here, so a new kind of data plugs in with
one line. Entries are ``"module:function"`` strings, imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

# dataset name -> kind
DATASET_KINDS: dict[str, str] = {"house-prices": "tabular", "imdb": "text"}
# kind -> "module:function" with signature fn(config, runs_dir, name, callbacks) -> (run_dir, state)
TRAINERS: dict[str, str] = {"image": "divekit.train.run:train_run",
                             "tabular": "divekit.train.tabular:train_tabular_run",
                             "text": "divekit.train.text:train_text_run"}
# kind -> "module:function" with signature fn(args) -> int, for `divekit eval` (tabular data has no test labels)
EVALUATORS: dict[str, str] = {"image": "divekit.cli.eval:eval_images", "text": "divekit.train.text:eval_text"}
# kind -> "module:function" with signature fn(args) -> int, for `divekit predict`
PREDICTORS: dict[str, str] = {"image": "divekit.cli.predict:predict_images",
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


def _pipeline(table: dict[str, str], kind: str, missing: str) -> Callable:
    """``table[kind]`` imported, or a ``ConfigError`` saying ``missing``."""
    from divekit.errors import ConfigError

    if kind not in table:
        raise ConfigError(missing)
    return _load(table[kind])


def trainer_for(kind: str) -> Callable:
    return _pipeline(TRAINERS, kind, f"no training pipeline for {kind} data yet")


def predictor_for(kind: str) -> Callable:
    return _pipeline(PREDICTORS, kind, f"no prediction pipeline for {kind} data yet")


def evaluator_for(kind: str) -> Callable:
    return _pipeline(EVALUATORS, kind, f"divekit eval needs a labelled test set, which {kind} runs do not have "
                                       f"(their validation metrics are in RUN/metrics.csv); 'divekit predict RUN' "
                                       f"writes the test predictions")


def trained_run_kind(run_dir, command: str) -> str:
    """The kind of data the finished training run in ``run_dir`` learned from, for ``eval``/``predict``;
    a k-fold run is refused: it keeps each fold's metrics, not a model."""
    from divekit.errors import ConfigError
    from divekit.train.rundir import read_config

    config, meta = read_config(run_dir)
    if meta.get("kind") == "kfold":
        raise ConfigError(f"{run_dir} is a k-fold run: it keeps each fold's metrics, not a model to {command}; "
                          f"train one with 'divekit train' (same flags, no --k) for that")
    if not (Path(run_dir) / "model.safetensors").exists():
        resume = (f"; continue it with 'divekit train --resume {run_dir}'"
                  if (Path(run_dir) / "checkpoint").is_dir() else "")
        raise ConfigError(f"{run_dir} has no model.safetensors: the run did not finish{resume}")
    return kind_of(config.data)
