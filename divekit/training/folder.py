"""The image-folder task: a folder of class subfolders, or ``train/``, ``val/`` (or ``valid/``) and ``test/`` of
them, trained as image data (``divekit.training.image``'s models, loaders and evaluation).

- The folder is decoded once into the user cache (``divekit.data.imagecache``) and read through a memory map:
  batches gather their images from it, so nothing is copied for a split and data larger than memory streams.
- Size: ``data_options["image_size"]`` (``--image-size N``: N×N, each image scaled to cover it and
  centre-cropped); by default the images' own size when they all share one of at most 64 pixels a side, else
  their median shorter side, at most 64. Channels follow the data (grey: 1, any colour: 3).
- Normalisation: the mean and standard deviation of the training rows' pixels (a seeded sample of at most
  10,000 images), never of the validation or test images; kept in config.json for prediction and export.
- Validation: the folder's ``val/``; without one, a stratified, seeded share of ``train`` (``--valid-fraction``,
  default 0.1). The test split, if there is one, is only evaluated, never used to choose anything; without one
  the final figures, ``evaluate`` and the report are the validation split's.
- ``data_options["skip_bad"]`` (``--skip-bad``): leave out unusable files and classes, listed with their reason
  in the run's ``skipped.csv``, instead of stopping at the first.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import torch

from divekit.data.folders import Bad, layout_of, shown
from divekit.data.imagecache import FolderData, load_folder
from divekit.data.images import ImageDataset
from divekit.data.split import train_valid_split
from divekit.errors import ConfigError, DataError
from divekit.options import check as check_option
from divekit.runs import write_text
from divekit.training import image
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device
from divekit.training.rundir import load_weights
from divekit.training.tasks import Examples, Prepared

DATA_OPTIONS = ("image_size", "skip_bad")
DEFAULT_VALID_FRACTION = 0.1
STATS_SAMPLE = 10_000
RESIZE_POLICY = "scaled to cover HxW keeping the aspect ratio, centre crop (PIL.ImageOps.fit, bicubic)"


def check(config: TrainConfig) -> TrainConfig:
    """An image model, the folder's own options, and a validation split: the folder's, or a share of train."""
    config = image.check(config)
    unknown = sorted(set(config.data_options) - set(DATA_OPTIONS))
    if unknown:
        raise ConfigError(f"data_options {unknown} are not image-folder options ({', '.join(DATA_OPTIONS)})")
    if config.data_options.get("image_size") is not None:
        check_option("image_size", config.data_options["image_size"], "--image-size")
    _, splits = layout_of(config.data)
    if "valid" in splits:
        if config.valid_fraction:
            raise ConfigError(f"--valid-fraction {config.valid_fraction:g}: {shown(config.data)} has its own "
                              f"validation folder; drop --valid-fraction, or move that folder out")
        return config
    return config if config.valid_fraction else config.replace(valid_fraction=DEFAULT_VALID_FRACTION)


def _load(config: TrainConfig) -> FolderData:
    opts = config.data_options
    return load_folder(config.data, opts.get("image_size"), bool(opts.get("skip_bad")))


def load(config: TrainConfig) -> Examples:
    data = _load(config)
    train = data.splits["train"]
    return Examples(data.root.name, str(data.root), len(train.rows), train.labels, data, tuple(data.classes))


def statistics(images: torch.Tensor, rows: torch.Tensor, seed: int) -> tuple[float, float]:
    """Pixel mean and standard deviation (in [0, 1] units) of a seeded sample of at most ``STATS_SAMPLE`` of
    ``rows``, read in order and in chunks, so that a cache larger than memory is not read whole."""
    if len(rows) > STATS_SAMPLE:
        gen = torch.Generator().manual_seed(seed)
        rows = rows[torch.randperm(len(rows), generator=gen)[:STATS_SAMPLE]]
    rows = rows.sort().values
    total = square = 0.0
    count = 0
    for part in rows.split(1000):
        x = images.index_select(0, part).double()
        total, square, count = total + x.sum().item(), square + x.square().sum().item(), count + x.numel()
    mean = total / max(count, 1)
    std = max((square / max(count, 1) - mean * mean), 0.0) ** 0.5
    return mean / 255, max(std / 255, 1e-3)


def dataset(data: FolderData, split: str, mean: float = 0.0, std: float = 1.0) -> ImageDataset:
    s = data.splits[split]
    return ImageDataset(data.images, s.labels, data.classes, data.root.name, split, mean, std, str(data.root),
                        rows=s.rows, names=s.names)


def eval_splits(data: FolderData, config: TrainConfig, mean: float, std: float, train_idx: torch.Tensor | None,
                valid_idx: torch.Tensor | None) -> tuple[ImageDataset, ImageDataset | None, ImageDataset | None]:
    """The training, validation and test sets, all normalised with the training rows' statistics."""
    full = dataset(data, "train", mean, std)
    train = full.subset(train_idx) if train_idx is not None else full
    if valid_idx is not None:
        valid = full.subset(valid_idx, "valid")
    else:
        valid = dataset(data, "valid", mean, std) if "valid" in data.splits else None
    test = dataset(data, "test", mean, std) if "test" in data.splits else None
    return train, valid, test


def skipped_csv(skipped: list[Bad]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "reason"])
    writer.writerows([shown(b.rel), b.reason] for b in skipped)  # odd names escaped, as in the error lines
    return buf.getvalue()


def prepare(config: TrainConfig, examples: Examples, train_idx: torch.Tensor | None,
            valid_idx: torch.Tensor | None, device: torch.device) -> Prepared:
    data: FolderData = examples.data
    train_rows = data.splits["train"].rows
    mean, std = statistics(data.images, train_rows[train_idx] if train_idx is not None else train_rows, config.seed)
    train_set, valid_set, test_set = eval_splits(data, config, mean, std, train_idx, valid_idx)
    in_shape = image.image_shape(config, train_set)
    model, channels_last = image.build(config, in_shape, len(data.classes), device)
    meta = {"in_shape": list(in_shape), "num_classes": len(data.classes), "classes": list(data.classes),
            "kind": "image-folder", "dataset": data.root.name, "data_source": str(data.root), "layout": data.layout,
            "image_size": list(data.size), "channels": data.channels, "resize_policy": RESIZE_POLICY,
            "mean": mean, "std": std, "train_examples": len(train_set),
            "valid_examples": len(valid_set) if valid_set is not None else 0,
            "test_examples": len(test_set) if test_set is not None else 0, "skipped_files": len(data.skipped),
            "cache": str(data.cache)}
    artifacts = {}
    if data.skipped:
        print(f"skipped {len(data.skipped)} bad file{'s' if len(data.skipped) > 1 else ''} or class folder"
              f"{'s' if len(data.skipped) > 1 else ''} (--skip-bad), listed with their reasons in the run's "
              f"skipped.csv", file=sys.stderr)
        artifacts["skipped.csv"] = lambda path: write_text(path, skipped_csv(data.skipped))
    return Prepared(model, image.loaders(config, train_set, valid_set, test_set, device, channels_last), meta,
                    len(train_set), artifacts=artifacts,
                    predictions=lambda state: image.final_predictions(state, test_set))


def open_run(run_dir: Path, config: TrainConfig, meta: dict[str, Any], device: str = "auto",
             data_dir: str | None = None) -> image.FinishedImages:
    """The run's model with its saved weights, and its test split (else its validation split, the same rows
    as in training), from the folder's cache (decoded again if the cache is gone)."""
    model, channels_last = image.build(config, tuple(meta["in_shape"]), meta["num_classes"], resolve_device(device))
    load_weights(model, run_dir / "model.safetensors")
    data = _load(config)
    if list(data.classes) != list(meta["classes"]):
        raise DataError(f"{shown(data.root)}: its classes are not the run's any more ({', '.join(data.classes)[:200]}"
                        f" against {', '.join(meta['classes'])[:200]}); train again on the folder as it is")
    if list(data.size) != list(meta["image_size"]) or data.channels != meta["channels"]:
        raise DataError(f"{shown(data.root)}: its images now decode at {data.size[1]}×{data.size[0]}, {data.channels} "
                        f"channel(s), the run's at {meta['image_size'][1]}×{meta['image_size'][0]}, "
                        f"{meta['channels']}; train again on the folder as it is")
    mean, std = float(meta["mean"]), float(meta["std"])
    if "test" in data.splits:
        eval_set = dataset(data, "test", mean, std)
    elif "valid" in data.splits:
        eval_set = dataset(data, "valid", mean, std)
    else:  # the same seeded split as the run's (divekit.training.run.split)
        full = dataset(data, "train", mean, std)
        valid_idx = train_valid_split(full.labels, config.valid_fraction, config.seed, stratify=True)[1]
        eval_set = full.subset(valid_idx, "valid")
    dev = next(model.parameters()).device
    return image.FinishedImages(model.eval(), config, meta, eval_set,
                                image.eval_loader(eval_set, config, dev, channels_last))
