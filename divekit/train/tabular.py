"""Tabular regression runs (house prices, any CSV): CSV → features → ``fit`` → run directory → predictions.

The feature transform is fitted on the rows the model trains on and nothing else (not the validation
fold, never the test file) and saved as ``transform.json`` next to ``model.safetensors``. Metrics per
epoch: the loss (MSE of what the model learns) and the book's log-RMSE on prices,
``sqrt(mean((log(max(pred, 1)) - log(y))²))``, for training and validation rows.

``data_options`` (``TrainConfig.data_options``) for tabular data: ``target`` (column to predict),
``id_column`` (an identifier, not a feature), ``test`` (a test CSV for a ``.csv`` dataset),
``target_transform`` (what the model learns: ``none`` = the target itself, as the book; ``log``; ``standard``;
``log-standard``), ``dummy_na`` (a "missing" indicator per categorical column, default on).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.data.loader import TensorLoader
from divekit.data.tabular import Table, TabularTransform, locate_tabular, read_csv, target_values
from divekit.errors import ConfigError, DataError
from divekit.models.registry import build_model
from divekit.runs import default_run_name, new_run_dir, write_json
from divekit.train.callbacks import final_row, overfitting_sentence, pick_metric, plot_train_valid
from divekit.train.config import TrainConfig
from divekit.train.fit import State, fit

# The book's house-prices settings (d2l §4.10): Adam at lr 5, no weight decay, batch 64, 100 epochs.
TABULAR_RECIPE: dict[str, Any] = {
    "model": "linear", "epochs": 100, "batch_size": 64, "opt": "adam", "lr": 5.0, "weight_decay": 0.0,
    "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0, "augment_flip": False, "tta_flip": False}
DATA_OPTIONS = ("target", "id_column", "test", "target_transform", "dummy_na")


def tabular_config(config: TrainConfig) -> TrainConfig:
    """``config`` made fit for tabular regression: task regression, fp32 (``auto`` would pick bf16 on some
    CPUs, too coarse for prices) and no channels-last. Unknown ``data_options`` are a ``ConfigError``."""
    unknown = set(config.data_options) - set(DATA_OPTIONS)
    if unknown:
        raise ConfigError(f"data_options {sorted(unknown)} are not tabular options ({', '.join(DATA_OPTIONS)})")
    precision = "fp32" if config.precision == "auto" else config.precision
    check_takes_rows(config.model, config.model_options)
    return replace(config, task="regression", precision=precision, channels_last=False).validate()


def check_takes_rows(model_name: str, options: dict[str, Any]) -> None:
    """Refuse a model that cannot map table rows ``[B, D]`` to one number each (an image net such as
    ``lenet``), before anything is read or written: it would otherwise fail deep inside its first step."""
    from divekit.models.registry import MODELS

    try:
        model = build_model(model_name, (8,), 1, **options).eval()  # ConfigError for unknown names/options
        with torch.no_grad():
            out = model(torch.zeros(2, 8))
        fits = tuple(out.shape) == (2, 1)
    except (RuntimeError, ValueError, IndexError) as e:
        fits, why = False, f"{type(e).__name__}: {e}"
    else:
        why = "" if fits else f"it maps 2 rows to an output of shape {tuple(out.shape)}"
    if not fits:
        tabular = sorted(m.name for m in MODELS.values() if m.kind == "tabular")
        raise ConfigError(f"--model {model_name} does not take table rows ({why.splitlines()[0][:160]}); "
                          f"for tabular data choose {', '.join(tabular)} or mlp")


@dataclass
class TabularData:
    """The training table with its target ``y`` (``float64 [N]``), and the test table if there is one."""

    name: str
    train: Table
    y: np.ndarray
    test: Table | None
    target: str
    id_column: str | None


def load_tabular_data(config: TrainConfig, data_dir: str | None = None) -> TabularData:
    """Read the dataset ``config.data`` (a known name or a ``.csv`` path) as ``data_options`` say."""
    opts = config.data_options
    data_dir = data_dir or config.data_dir
    if config.data.endswith(".csv"):
        train = read_csv(config.data)
        test = read_csv(opts["test"]) if opts.get("test") else None
        name, target, id_column = Path(config.data).stem, opts.get("target") or train.header[-1], opts.get("id_column")
    else:
        spec, train_path, test_path = locate_tabular(config.data, data_dir)
        train, test = read_csv(train_path), read_csv(opts.get("test") or test_path)
        name, target, id_column = spec.name, opts.get("target", spec.target), opts.get("id_column", spec.id_column)
    if id_column:
        train.index(id_column, "id column")
    return TabularData(name, train, target_values(train, target), test, target, id_column)


def fit_transform(config: TrainConfig, data: TabularData, rows: Sequence[int]) -> TabularTransform:
    """The feature transform learned from ``rows`` of the training table only."""
    opts = config.data_options
    return TabularTransform.fit(data.train, rows, data.target, data.id_column, bool(opts.get("dummy_na", True)),
                                opts.get("target_transform", "none"))


def log_rmse(pred: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """The book's metric: ``sqrt(mean((log(max(pred, 1)) - log(y))²))``, pred and y in price units."""
    pred, y = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    return torch.sqrt(torch.mean((torch.log(pred.clamp(min=1.0)) - torch.log(y)) ** 2)).item()


@torch.inference_mode()
def predict_values(model: torch.nn.Module, x: torch.Tensor, transform: TabularTransform) -> np.ndarray:
    """Predictions ``float64 [N]`` in target units (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    out = model(x).squeeze(-1).double().cpu().numpy()
    model.train(was_training)
    return transform.decode(out)


class LogRMSE:
    """Callback adding ``train_log_rmse`` and ``valid_log_rmse`` to each epoch's metrics row."""

    def __init__(self, splits: dict[str, tuple[torch.Tensor, np.ndarray]], transform: TabularTransform) -> None:
        self.splits, self.transform = splits, transform

    def on_epoch_end(self, state: State) -> None:
        row = state.history[-1]
        for split, (x, y) in self.splits.items():
            row[f"{split}_log_rmse"] = log_rmse(predict_values(state.model, x, self.transform), y)


@dataclass
class FoldResult:
    model: torch.nn.Module
    transform: TabularTransform
    state: State


def fit_fold(config: TrainConfig, data: TabularData, train_idx: torch.Tensor, valid_idx: torch.Tensor | None,
             callbacks: Sequence[Any] = ()) -> FoldResult:
    """Fit the transform on ``train_idx``, train ``config.model`` on those rows, validate on ``valid_idx``."""
    from divekit.train.run import seed_everything

    seed_everything(config.seed)
    transform = fit_transform(config, data, train_idx.tolist())
    x = torch.from_numpy(transform.transform(data.train))
    y = torch.from_numpy(transform.encode_target(data.y)).float()
    train = TensorLoader(x[train_idx], y[train_idx], config.batch_size, shuffle=True, seed=config.seed)
    splits = {"train": (x[train_idx], data.y[train_idx.numpy()])}
    valid = None
    if valid_idx is not None and len(valid_idx):
        valid = TensorLoader(x[valid_idx], y[valid_idx], config.eval_batch_size)
        splits["valid"] = (x[valid_idx], data.y[valid_idx.numpy()])
    model = build_model(config.model, (x.shape[1],), 1, **config.model_options)
    state = fit(model, train, config, valid, None, [LogRMSE(splits, transform), *callbacks])
    return FoldResult(model, transform, state)


def train_tabular_run(config: TrainConfig, runs_dir: str | Path = "runs", name: str | None = None,
                      callbacks: list[Any] | None = None) -> tuple[Path, State]:
    """Train on the training CSV (minus a seeded ``valid_fraction``) and write the run directory:
    config.json, transform.json, metrics.csv, model.safetensors, curves.png, summary.json."""
    from divekit.data.split import train_valid_split
    from divekit.train.device import set_threads
    from divekit.train.run import RunWriter, write_run_report
    from divekit.train.rundir import save_weights, write_config

    config = tabular_config(config)
    t0 = time.perf_counter()
    threads = set_threads(config.threads)
    data = load_tabular_data(config)
    n = len(data.train)
    if config.valid_fraction:
        train_idx, valid_idx = train_valid_split(torch.zeros(n), config.valid_fraction, config.seed, stratify=False)
    else:
        train_idx, valid_idx = torch.arange(n), None
    run_dir = new_run_dir(runs_dir, name or default_run_name(f"{config.model}-{data.name}"))
    result = fit_fold(config, data, train_idx, valid_idx, [RunWriter(run_dir), *(callbacks or [])])
    result.transform.save(run_dir / "transform.json")
    meta = {"in_shape": [result.transform.num_features], "num_classes": 1, "kind": "tabular", "dataset": data.name,
            "target": data.target, "id_column": data.id_column, "transform": "transform.json",
            "train_examples": len(train_idx), "valid_examples": 0 if valid_idx is None else len(valid_idx),
            "test_examples": 0 if data.test is None else len(data.test),
            "parameters": sum(p.numel() for p in result.model.parameters()), "threads": threads}
    write_config(run_dir, config, meta)
    save_weights(result.model, run_dir / "model.safetensors")
    history = result.state.history
    metric = pick_metric(history) or "log_rmse"
    plot_train_valid(run_dir / "curves.png", [history], metric, f"{config.model} on {data.name}", log_scale=True)
    write_json(run_dir / "summary.json", {
        "final": final_row(result.state), "early_stopping": result.state.extra.get("early_stopping"),
        "overfitting": overfitting_sentence(history), "train_seconds": round(result.state.seconds, 3),
        "total_seconds": round(time.perf_counter() - t0, 3)})
    write_run_report(run_dir)
    return run_dir, result.state


def predict_tabular(args: argparse.Namespace) -> int:
    """``divekit predict RUN``: one row per test row, ``<id column>,<target>`` (Kaggle's submission format)."""
    from divekit.runs import resolve_run_dir, write_text
    from divekit.train.rundir import load_weights, read_config

    run_dir = resolve_run_dir(args.run, args.runs_dir)
    config, meta = read_config(run_dir)
    if getattr(args, "test_csv", None):
        config = replace(config, data_options={**config.data_options, "test": args.test_csv})
    transform = TabularTransform.load(run_dir / meta.get("transform", "transform.json"))
    data = load_tabular_data(config, args.data_dir)
    if data.test is None:
        raise DataError(f"{config.data}: no test file to predict on; give one with --test-csv PATH.csv")
    model = build_model(config.model, tuple(meta["in_shape"]), 1, **config.model_options)
    load_weights(model, run_dir / "model.safetensors")
    x = torch.from_numpy(transform.transform(data.test))
    pred = predict_values(model, x, transform)
    ids = data.test.column(data.id_column) if data.id_column else [str(i) for i in range(len(pred))]
    lines = [f"{data.id_column or 'index'},{data.target}"]
    lines += [f"{i},{float(p)!r}" for i, p in zip(ids, pred, strict=True)]
    out = Path(args.out) if args.out else run_dir / "predictions.csv"
    write_text(out, "\n".join(lines) + "\n")
    unknown = transform.unknown_categories(data.test)
    note = ("; categories unseen in training, encoded as zeros: "
            + "; ".join(f"{c}: {', '.join(v)}" for c, v in unknown.items())) if unknown else ""
    print(f"wrote {len(pred)} predictions to {out}{note}")
    return 0
