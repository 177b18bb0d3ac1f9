"""The image-classification task: IDX datasets (Fashion-MNIST, MNIST …) held in memory as uint8 tensors.

Batches are index slices of one tensor, converted to float, normalised and augmented per batch on the compute
device (``divekit.data.loader.TensorLoader``). Conv nets train channels-last; the book's LeNet takes its fast
path (``divekit.speed``) unless fast paths are off.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from divekit import speed
from divekit.data.images import ImageDataset, load_dataset
from divekit.data.loader import Augment, TensorLoader
from divekit.errors import DataError
from divekit.models.registry import MODELS, build_model, list_models
from divekit.report.rundata import Predictions
from divekit.training import distributed
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device, run_precision
from divekit.training.evaluate import evaluate, predict_probabilities
from divekit.training.rundir import load_weights
from divekit.training.state import Loaders, State
from divekit.training.tasks import Examples, PredictionTable, Prepared


def check(config: TrainConfig) -> TrainConfig:
    """An image run needs an image model (a text or tabular net would fail deep inside its first step)."""
    from divekit.errors import ConfigError

    list_models()
    entry = MODELS.get(config.model)
    if entry is not None and entry.kind != "image":
        images = sorted(m.name for m in MODELS.values() if m.kind == "image")
        raise ConfigError(f"--model {config.model} is a {entry.kind} model; for image data choose one of "
                          f"{', '.join(images)}")
    if config.task != "classification":
        raise ConfigError(f"task {config.task!r}: image datasets are for classification")
    return config


def load(config: TrainConfig) -> Examples:
    train = load_dataset(config.data, "train", config.data_dir)
    test = load_dataset(config.data, "test", config.data_dir)
    return Examples(train.name, train.source, len(train), train.labels, (train, test), tuple(train.classes))


def image_shape(config: TrainConfig, dataset: ImageDataset) -> tuple[int, int, int]:
    c, h, w = dataset.shape
    return (c, config.resize, config.resize) if config.resize else (c, h, w)


def build(config: TrainConfig, in_shape: tuple[int, ...], num_classes: int,
          device: torch.device) -> tuple[torch.nn.Module, bool]:
    """The model that trains: built by name, on ``device``, channels-last for conv nets when enabled, with its
    fast path when fast paths are on. Returns ``(model, channels_last)``."""
    model = build_model(config.model, in_shape, num_classes, **config.model_options)
    if config.fast_paths:
        model, _ = speed.speed_up_model(config.model, model)
    model = model.to(device)
    channels_last = config.channels_last and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, channels_last


EVAL_PIXELS = 1000 * 28 * 28  # pixels per channel in one evaluation batch at most: 1,000 Fashion-MNIST images


def eval_batch(config: TrainConfig, shape: tuple[int, int, int]) -> int:
    """``eval_batch_size``, fewer for large images: a batch of 1,000 images at 112×112 px would hold hundreds of
    MiB of activations per layer (more than a run streaming its images from disk may have)."""
    side = config.resize or 0
    pixels = side * side if side else shape[1] * shape[2]
    return max(1, min(config.eval_batch_size, EVAL_PIXELS // max(pixels, 1)))


def eval_loader(ds: ImageDataset, config: TrainConfig, device: torch.device, channels_last: bool) -> TensorLoader:
    """Batches of ``ds`` in its stored order (never shuffled), as evaluation and prediction need."""
    resize = (config.resize, config.resize) if config.resize else None
    return TensorLoader(ds.images, ds.labels, eval_batch(config, ds.shape), shuffle=False, mean=ds.mean,
                        std=ds.std, device=device, channels_last=channels_last, resize=resize, rows=ds.rows)


def _shard(ds: ImageDataset) -> ImageDataset:
    """This process's consecutive part of ``ds`` in a data-parallel run (``evaluate`` adds the parts' sums up
    over the processes); all of ``ds`` in a single process."""
    world = distributed.world_size()
    if world == 1:
        return ds
    start, stop = distributed.shard_range(len(ds), distributed.rank(), world)
    return ds.subset(torch.arange(start, stop))


def loaders(config: TrainConfig, train_set: ImageDataset, valid_set: ImageDataset | None,
            test_set: ImageDataset | None, device: torch.device, channels_last: bool) -> Loaders:
    """The training loader (in a data-parallel run, this process's shard of every batch) and the ordered
    evaluation loaders (None for a split the data does not have)."""
    resize = (config.resize, config.resize) if config.resize else None
    train = TensorLoader(train_set.images, train_set.labels, config.batch_size, shuffle=True, seed=config.seed,
                         mean=train_set.mean, std=train_set.std, device=device, channels_last=channels_last,
                         augment=Augment(config.augment_crop, config.augment_flip), resize=resize,
                         rank=distributed.rank(), world=distributed.world_size(), rows=train_set.rows)
    valid = eval_loader(_shard(valid_set), config, device, channels_last) if valid_set is not None else None
    test = eval_loader(_shard(test_set), config, device, channels_last) if test_set is not None else None
    return Loaders(train, valid, test)


def prepare(config: TrainConfig, examples: Examples, train_idx: torch.Tensor | None,
            valid_idx: torch.Tensor | None, device: torch.device) -> Prepared:
    train_set, test_set = examples.data
    valid_set = train_set.subset(valid_idx, "valid") if valid_idx is not None else None
    if train_idx is not None:
        train_set = train_set.subset(train_idx)
    in_shape = image_shape(config, train_set)
    model, channels_last = build(config, in_shape, train_set.num_classes, device)
    meta = {"in_shape": list(in_shape), "num_classes": train_set.num_classes, "classes": list(train_set.classes),
            "kind": "image", "dataset": train_set.name, "data_source": train_set.source,
            "train_examples": len(train_set), "test_examples": len(test_set)}

    return Prepared(model, loaders(config, train_set, valid_set, test_set, device, channels_last), meta,
                    len(train_set), predictions=lambda state: final_predictions(state, test_set))


def final_predictions(state: State, test_set: ImageDataset | None) -> Predictions | None:
    """The last epoch's test predictions and losses (the report need not run the model over the test set
    again)."""
    predicted = state.test_predictions
    if test_set is None or predicted is None or distributed.world_size() > 1 or len(predicted) != len(test_set):
        return None
    return Predictions(test_set.labels.clone(), predicted, test_set.pixels, tuple(test_set.classes),
                       state.test_losses, test_set.names)


@dataclass
class FinishedImages:
    """A finished image run: its model with the saved weights, and its test set in stored order (a folder run
    without a test split: its validation split)."""

    model: torch.nn.Module
    config: TrainConfig
    meta: dict[str, Any]
    test_set: ImageDataset
    loader: TensorLoader

    @property
    def dtype(self) -> torch.dtype | None:
        return run_precision(self.config, next(self.model.parameters()).device)

    @property
    def classes(self) -> list[str]:
        return list(self.meta.get("classes") or self.test_set.classes)

    def evaluate(self) -> dict[str, Any]:
        c = self.config
        metrics = evaluate(self.model, self.loader, None, self.dtype, c.tta_flip, c.task, tta_shift=c.tta_shift)
        return {"split": self.test_set.split, "examples": len(self.test_set), **metrics}

    def probabilities(self, loader: TensorLoader | None = None) -> torch.Tensor:
        c = self.config
        return predict_probabilities(self.model, loader or self.loader, None, self.dtype, c.tta_flip, c.tta_shift)

    def predict(self, inputs: Any = None) -> PredictionTable:
        """One row per test image, in the dataset's stored order; or per image file of ``inputs`` (a file or a
        folder, searched recursively, or a list of such), decoded and normalised exactly as the run's own
        images."""
        if inputs is not None:
            return self.predict_files(inputs)
        probs = self.probabilities()
        conf, pred = probs.max(1)
        classes, labels = self.classes, self.test_set.labels.tolist()
        acc = (pred == self.test_set.labels).float().mean().item() if len(pred) else float("nan")
        if self.test_set.names is not None:  # a folder run: its files, named
            return prediction_table(probs, classes, list(self.test_set.names), [classes[t] for t in labels],
                                    f"{self.test_set.split} accuracy {acc:.4f}")
        rows = [[i, p, classes[p], f"{c:.6f}", t]
                for i, (p, c, t) in enumerate(zip(pred.tolist(), conf.tolist(), labels, strict=True))]
        return PredictionTable(["index", "label", "class", "probability", "true_label"], rows,
                               f"accuracy {acc:.4f}")

    def predict_files(self, inputs: str | Path | list[str | Path], skip_bad: bool = False) -> PredictionTable:
        """Predictions for the image files of ``inputs`` (see ``predict``); ``skip_bad``: leave out files that are
        not usable images, counted in the table's note and named on stderr, instead of stopping at the first."""
        from divekit.data.decode import decode_files
        from divekit.data.folders import input_files, shown

        names, paths = input_files(inputs)
        c, h, w = self.test_set.shape
        pixels, bad = decode_files(paths, (h, w), c, skip_bad)
        if bad:
            skipped = {p for p, _ in bad}
            names = [n for n, p in zip(names, paths, strict=True) if p not in skipped]
            which = "1 file that is not an image" if len(bad) == 1 else f"{len(bad)} files that are not images"
            print(f"skipped {which} (--skip-bad){'' if len(bad) == 1 else ', the first'}: {shown(bad[0][0])} "
                  f"({bad[0][1]})", file=sys.stderr)
        if not names:
            raise DataError(f"{inputs if isinstance(inputs, str | Path) else inputs[0]}: no usable image files to "
                            f"predict on")
        ds = ImageDataset(torch.from_numpy(pixels), torch.zeros(len(pixels), dtype=torch.int64),
                          self.test_set.classes, "inputs", "inputs", self.test_set.mean, self.test_set.std)
        loader = eval_loader(ds, self.config, self.loader.device, self.loader.channels_last)
        where = inputs if isinstance(inputs, str | Path) else ", ".join(map(str, inputs))
        note = f"{len(names)} image{'s' if len(names) != 1 else ''} of {where}"
        return prediction_table(self.probabilities(loader), self.classes, names, None,
                                note + (f"; {len(bad)} skipped" if bad else ""))

    def report_predictions(self) -> Predictions:
        probs = self.probabilities()
        labels = self.test_set.labels
        losses = -probs.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-12).log()
        return Predictions(labels.clone(), probs.argmax(1), self.test_set.pixels, tuple(self.classes), losses,
                           self.test_set.names, self.test_set.split)


TOP_K = 5


def prediction_table(probs: torch.Tensor, classes: list[str], inputs: list[str], truth: list[str] | None,
                     note: str = "") -> PredictionTable:
    """``input, class, probability``, the next ``TOP_K - 1`` classes with their probabilities, and the true
    class when known: one row per input."""
    k = min(TOP_K, len(classes))
    top_p, top_i = probs.topk(k, 1)
    header = ["input", "class", "probability", *[f"{col}_{j}" for j in range(2, k + 1)
                                                  for col in ("class", "probability")]]
    rows = []
    for n, (ps, cs) in enumerate(zip(top_p.tolist(), top_i.tolist(), strict=True)):
        row: list[Any] = [inputs[n]]
        for p, ci in zip(ps, cs, strict=True):
            row += [classes[ci], f"{p:.6f}"]
        rows.append(row + ([truth[n]] if truth is not None else []))
    return PredictionTable(header + (["true_class"] if truth is not None else []), rows, note)


def open_run(run_dir: Path, config: TrainConfig, meta: dict[str, Any], device: str = "auto",
         data_dir: str | None = None) -> FinishedImages:
    """Rebuild ``run_dir``'s model with its saved weights and load its test set (``data_dir`` overrides where
    the data is looked for)."""
    model, channels_last = build(config, tuple(meta["in_shape"]), meta["num_classes"], resolve_device(device))
    load_weights(model, run_dir / "model.safetensors")
    test_set = load_dataset(config.data, "test", data_dir or config.data_dir)
    dev = next(model.parameters()).device
    return FinishedImages(model.eval(), config, meta, test_set, eval_loader(test_set, config, dev, channels_last))
