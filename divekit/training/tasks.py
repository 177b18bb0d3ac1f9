"""What differs between kinds of data, and nothing else: one small task per kind (image, tabular, text).

The run pipeline (``divekit.training.run``) does every kind's run the same way: seed, device, split, run
directory, config, fit with checkpoints and mistake checks, weights, curves, summary, report. A task supplies
only what depends on the data:

- ``check(config)``: refuse settings that do not apply to this kind, before anything is read or written;
- ``load(config)``: read the dataset (``Examples``: how many training examples, their labels for a
  stratified split);
- ``prepare(config, examples, train_idx, valid_idx, device)``: fit what is learned from the training rows
  (a vocabulary, a feature transform), build the loaders and the model (``Prepared``);
- ``open_run(run_dir, …)``: a finished run's model and data, to ``evaluate()`` and ``predict()`` (``Finished``).

A new kind of data is one more module with these four functions and one line in ``TASKS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from divekit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

    from divekit.training.config import TrainConfig
    from divekit.training.state import Loaders, State

# kind -> the module implementing the task (imported only when used, so the CLI stays torch-free)
TASKS: dict[str, str] = {"image": "divekit.training.image", "tabular": "divekit.training.tabular",
                         "text": "divekit.training.text", "image-folder": "divekit.training.folder"}
# dataset name -> kind, for names that are not image datasets
DATASET_KINDS: dict[str, str] = {"house-prices": "tabular", "imdb": "text"}


def kind_of(dataset: str, data_options: dict[str, Any] | None = None) -> str:
    """The kind of a dataset name or path: a ``.csv`` is text when ``data_options`` name its ``text_column``,
    else tabular; known names as registered; a folder of class folders of ``.txt`` files is text, of image
    files an image folder; else images (IDX)."""
    if dataset.endswith(".csv"):
        return "text" if (data_options or {}).get("text_column") else "tabular"
    if dataset not in DATASET_KINDS:
        from divekit.data.folders import is_image_folder
        from divekit.data.textfiles import is_text_folder

        if is_image_folder(dataset):  # first: it reads a few names, the text check every file's
            return "image-folder"
        if is_text_folder(dataset):
            return "text"
    return DATASET_KINDS.get(dataset, "image")


def task_for(kind: str) -> Task:
    """The task module of ``kind``."""
    if kind not in TASKS:
        raise ConfigError(f"no pipeline for {kind} data; known kinds: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[kind])  # type: ignore[return-value]


@dataclass
class Examples:
    """A dataset as read: ``n`` training examples, their class ``labels`` (stratified splits; None for
    regression), and the task's own ``data`` (images, a table, texts) that ``prepare`` turns into loaders."""

    name: str
    source: str
    n: int
    labels: torch.Tensor | None
    data: Any
    classes: tuple[str, ...] = ()


def load_examples(task: Task, config: TrainConfig) -> Examples:
    """``task.load(config)``, refusing classification data whose training examples all have one class: a
    classifier learns to tell classes apart, and such a run would report a perfect, meaningless accuracy."""
    examples = task.load(config)
    check_classes(examples)
    return examples


def check_classes(examples: Examples) -> None:
    """A ``DataError`` naming the data and its only class when every training example has that class."""
    if examples.labels is None or examples.n == 0:
        return
    present = examples.labels.unique()
    if len(present) < 2:
        named = examples.classes[int(present[0])] if examples.classes else str(int(present[0]))
        which = f"all {examples.n} training examples are" if examples.n > 1 else "its one training example is"
        raise DataError(f"{examples.source}: {which} of one class ({named}); a classifier needs examples of two or "
                        f"more classes")


@dataclass
class Prepared:
    """What one run trains: the model, its loaders, and what the task adds to the run's record.

    Attributes:
        meta: resolved facts for config.json (shapes, classes, dataset, counts).
        loss_fn: the training loss (None: cross-entropy with label smoothing, or MSE for regression).
        callbacks: the task's own metrics (e.g. log-RMSE for prices), run before the user's callbacks.
        artifacts: files the run keeps next to its weights, ``name -> write(path)`` (vocab.json …).
        summary: extra summary.json fields from the final state (tokens per second …).
        predictions: the report's test predictions from the final state, if the task has them.
        curves: draws curves.png from the final state instead of the default figure (returns its PNG).
        examples: training examples per epoch (for examples per second).
    """

    model: torch.nn.Module
    loaders: Loaders
    meta: dict[str, Any]
    examples: int
    loss_fn: Callable | None = None
    callbacks: list[Any] = field(default_factory=list)
    artifacts: dict[str, Callable[[Path], Any]] = field(default_factory=dict)
    summary: Callable[[State], dict[str, Any]] | None = None
    predictions: Callable[[State], Any] | None = None
    curves: Callable[[Path, State], bytes | None] | None = None


@dataclass
class PredictionTable:
    """Predictions as a table (one row per input) and a one-line account of them."""

    header: list[str]
    rows: list[list[Any]]
    note: str = ""

    def csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue()


class Finished(Protocol):
    """A finished run opened for use: its model (eval mode, saved weights) and data."""

    model: torch.nn.Module

    def evaluate(self) -> dict[str, Any]: ...

    def predict(self, inputs: Any = None) -> PredictionTable: ...

    def report_predictions(self) -> Any: ...


class Task(Protocol):
    """The four functions of a task module (see the module docstring)."""

    def check(self, config: TrainConfig) -> TrainConfig: ...

    def load(self, config: TrainConfig) -> Examples: ...

    def prepare(self, config: TrainConfig, examples: Examples, train_idx: torch.Tensor | None,
                valid_idx: torch.Tensor | None, device: torch.device) -> Prepared: ...

    def open_run(self, run_dir: Path, config: TrainConfig, meta: dict[str, Any], device: str = "auto",
             data_dir: str | None = None) -> Finished: ...


def refuse_image_options(config: TrainConfig, kind: str) -> None:
    """Image augmentation and resizing do not apply to other data: refused, not silently ignored."""
    image_only = [flag for flag, on in (("--resize", config.resize is not None),
                                        ("--augment-crop", config.augment_crop > 0),
                                        ("--flip", config.augment_flip), ("--tta", config.tta_flip),
                                        ("--tta-shift", config.tta_shift > 0)) if on]
    if image_only:
        raise ConfigError(f"{', '.join(image_only)}: for image data, not {kind} data")
