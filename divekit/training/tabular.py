"""The tabular regression task (house prices, any CSV): CSV → features → model → prices.

The feature transform is fitted on the rows the model trains on and nothing else (not the validation rows,
never the test file) and kept as ``transform.json`` next to ``model.safetensors``. Metrics per epoch: the
loss (MSE of what the model learns) and the book's log-RMSE on prices,
``sqrt(mean((log(max(pred, 1)) - log(y))²))``, for training and validation rows.

``data_options`` for tabular data: ``target`` (column to predict), ``id_column`` (an identifier, not a
feature), ``test`` (a test CSV for a ``.csv`` dataset), ``target_transform`` (what the model learns: ``none`` =
the target itself, as the book; ``log``; ``standard``; ``log-standard``), ``dummy_na`` (a "missing" indicator
per categorical column, default on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.data.loader import TensorLoader
from divekit.data.split import train_valid_split
from divekit.data.tabular import Table, TabularTransform, locate_tabular, read_csv, target_values
from divekit.errors import ConfigError, DataError
from divekit.models.registry import MODELS, build_model, list_models
from divekit.report.overfitting import plot_train_valid
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device
from divekit.training.rundir import load_weights
from divekit.training.state import Loaders, State
from divekit.training.tasks import Examples, PredictionTable, Prepared, refuse_image_options

DATA_OPTIONS = ("target", "id_column", "test", "target_transform", "dummy_na")


def check(config: TrainConfig) -> TrainConfig:
    """Tabular runs are regressions on table rows; a model that cannot map rows ``[B, D]`` to one number
    each (an image net such as ``lenet``) is refused before anything is read or written. ``--precision auto``
    is fp32 here: bf16 is too coarse for prices."""
    unknown = set(config.data_options) - set(DATA_OPTIONS)
    if unknown:
        raise ConfigError(f"data_options {sorted(unknown)} are not tabular options ({', '.join(DATA_OPTIONS)})")
    refuse_image_options(config, "tabular")
    if config.task != "regression":
        raise ConfigError(f"task {config.task!r}: tabular data is a regression here (task='regression', as the "
                          f"house-prices recipe sets)")
    check_takes_rows(config.model, config.model_options)
    return config.replace(precision="fp32") if config.precision == "auto" else config


def check_takes_rows(model_name: str, options: dict[str, Any]) -> None:
    """Refuse a model that cannot map table rows ``[B, D]`` to one number each, naming the tabular models."""
    list_models()  # fills the registry
    if model_name not in MODELS:
        build_model(model_name)  # the registry's own error: unknown model, with the names it has
    try:
        model = build_model(model_name, (8,), 1, **options).eval()
        with torch.no_grad():
            out = model(torch.zeros(2, 8))
        fits, why = tuple(out.shape) == (2, 1), f"it maps 2 rows to an output of shape {tuple(out.shape)}"
    except (RuntimeError, ValueError, IndexError, ConfigError) as e:
        fits, why = False, str(e)
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


def read_tables(config: TrainConfig, data_dir: str | None = None, test: str | None = None) -> TabularData:
    """Read the dataset ``config.data`` (a known name or a ``.csv`` path) as ``data_options`` say; ``test``
    replaces the test file."""
    opts = config.data_options
    data_dir = data_dir or config.data_dir
    test = test or opts.get("test")
    if config.data.endswith(".csv"):
        train = read_csv(config.data)
        name, target, id_column = Path(config.data).stem, opts.get("target") or train.header[-1], opts.get("id_column")
        test_table = read_csv(test) if test else None
    else:
        spec, train_path, test_path = locate_tabular(config.data, data_dir)
        train, test_table = read_csv(train_path), read_csv(test or test_path)
        name, target, id_column = spec.name, opts.get("target", spec.target), opts.get("id_column", spec.id_column)
    if id_column:
        train.index(id_column, "id column")
    return TabularData(name, train, target_values(train, target), test_table, target, id_column)


def load(config: TrainConfig) -> Examples:
    data = read_tables(config)
    return Examples(data.name, str(data.train.path), len(data.train), None, data)


def log_rmse(pred: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """The book's metric: ``sqrt(mean((log(max(pred, 1)) - log(y))²))``, pred and y in price units (NaN when a
    target is not positive: the log of a price must exist)."""
    pred, y = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    return torch.sqrt(torch.mean((torch.log(pred.clamp(min=1.0)) - torch.log(y)) ** 2)).item()


@torch.inference_mode()
def predict_values(model: torch.nn.Module, x: torch.Tensor, transform: TabularTransform) -> np.ndarray:
    """Predictions ``float64 [N]`` in target units (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    out = model(x.to(next(model.parameters()).device)).squeeze(-1).double().cpu().numpy()
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


def fit_transform(config: TrainConfig, data: TabularData, rows: list[int]) -> TabularTransform:
    """The feature transform learned from ``rows`` of the training table only."""
    opts = config.data_options
    return TabularTransform.fit(data.train, rows, data.target, data.id_column, bool(opts.get("dummy_na", True)),
                                opts.get("target_transform", "none"))


def prepare(config: TrainConfig, examples: Examples, train_idx: torch.Tensor | None,
            valid_idx: torch.Tensor | None, device: torch.device) -> Prepared:
    data: TabularData = examples.data
    train_idx = torch.arange(examples.n) if train_idx is None else train_idx
    transform = fit_transform(config, data, train_idx.tolist())
    x = torch.from_numpy(transform.transform(data.train))
    y = torch.from_numpy(transform.encode_target(data.y)).float()
    train = TensorLoader(x[train_idx], y[train_idx], config.batch_size, shuffle=True, seed=config.seed, device=device)
    splits = {"train": (x[train_idx], data.y[train_idx.numpy()])}
    valid = None
    if valid_idx is not None and len(valid_idx):
        valid = TensorLoader(x[valid_idx], y[valid_idx], config.eval_batch_size, device=device)
        splits["valid"] = (x[valid_idx], data.y[valid_idx.numpy()])
    model = build_model(config.model, (x.shape[1],), 1, **config.model_options).to(device)
    meta = {"in_shape": [transform.num_features], "num_classes": 1, "kind": "tabular", "dataset": data.name,
            "data_source": str(data.train.path), "target": data.target, "id_column": data.id_column,
            "transform": "transform.json", "train_examples": len(train_idx),
            "valid_examples": 0 if valid_idx is None else len(valid_idx),
            "test_examples": 0 if data.test is None else len(data.test)}

    def curves(run_dir: Path, state: State) -> None:
        """curves.png: train against validation log-RMSE on a log scale (the report draws its own figures)."""
        from divekit.report.overfitting import pick_metric

        metric = pick_metric(state.history) or "log_rmse"
        plot_train_valid(run_dir / "curves.png", [state.history], metric, f"{config.model} on {data.name}",
                         log_scale=True)

    return Prepared(model, Loaders(train, valid, None), meta, len(train_idx),
                    callbacks=[LogRMSE(splits, transform)], artifacts={"transform.json": transform.save},
                    curves=curves)


@dataclass
class FinishedTable:
    """A finished tabular run: its model, its feature transform and its tables."""

    model: torch.nn.Module
    config: TrainConfig
    meta: dict[str, Any]
    transform: TabularTransform
    data_dir: str | None

    def evaluate(self) -> dict[str, Any]:
        """log-RMSE and MSE on the labelled test file; without one, on the run's validation rows (the same
        seeded split); without those, on the training rows (and the result says which)."""
        data = read_tables(self.config, self.data_dir)
        if data.test is not None and data.target in data.test.header:
            split, table, y = "test", data.test, target_values(data.test, data.target)
        else:
            n, fraction = len(data.train), self.config.valid_fraction
            rows = (train_valid_split(torch.zeros(n), fraction, self.config.seed, stratify=False)[1]
                    if fraction else torch.arange(n))
            split, table, y = ("valid" if fraction else "train"), data.train, data.y
            table = Table(table.path, table.header, [table.rows[i] for i in rows], [table.lines[i] for i in rows])
            y = y[rows.numpy()]
        pred = predict_values(self.model, torch.from_numpy(self.transform.transform(table)), self.transform)
        return {"split": split, "examples": len(y), "log_rmse": log_rmse(pred, y),
                "mse": float(np.mean((pred - y) ** 2))}

    def predict(self, inputs: Any = None) -> PredictionTable:
        """One row per row of the test CSV (``inputs``: another CSV), ``<id column>,<target>`` (Kaggle's
        submission format)."""
        data = read_tables(self.config, self.data_dir, test=str(inputs) if inputs is not None else None)
        if data.test is None:
            raise DataError(f"{self.config.data}: no test file to predict on; give one (a CSV with the training "
                            f"file's columns)")
        pred = predict_values(self.model, torch.from_numpy(self.transform.transform(data.test)), self.transform)
        ids = data.test.column(data.id_column) if data.id_column else [str(i) for i in range(len(pred))]
        unknown = self.transform.unknown_categories(data.test)
        note = ("categories unseen in training, encoded as zeros: "
                + "; ".join(f"{c}: {', '.join(v)}" for c, v in unknown.items())) if unknown else ""
        return PredictionTable([data.id_column or "index", data.target],
                               [[i, float(p)] for i, p in zip(ids, pred, strict=True)], note)

    def report_predictions(self) -> None:
        return None  # the report's predictions sections are for classification


def open_run(run_dir: Path, config: TrainConfig, meta: dict[str, Any], device: str = "auto",
             data_dir: str | None = None) -> FinishedTable:
    transform = TabularTransform.load(run_dir / meta.get("transform", "transform.json"))
    model = build_model(config.model, tuple(meta["in_shape"]), 1, **config.model_options)
    load_weights(model, run_dir / "model.safetensors")
    return FinishedTable(model.to(resolve_device(device)).eval(), config, meta, transform, data_dir)
