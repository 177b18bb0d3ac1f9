"""Recipes: complete training configurations, one place each. Flags the user gives override them.

- ``fast`` (image data without ``--model``): the tuned Fashion-MNIST recipe: ``fastcnn``, the Muon optimizer
  (divekit/training/muon.py) on a one-cycle schedule, label smoothing, flips and flip test-time augmentation; the
  test set is evaluated once, after the last epoch.
- ``plain`` (image data with ``--model``): the book's style, plain SGD at a constant rate, 10 epochs, nothing
  hidden: no momentum, weight decay, label smoothing, augmentation or warm-up.
- ``fmnist-93``: aims at ≥ 93.5 % Fashion-MNIST test accuracy in minutes on a 2-core CPU, in two variants;
  ``--recipe fmnist-93`` picks the one for the precision the run will have, and says which. Both train the
  ``cnn3`` net (its first block at full resolution) for 15 epochs with flips and one-pixel random crops, flip
  test-time augmentation, a one-cycle schedule, Nesterov momentum and label smoothing.
  ``fmnist-93-bf16`` (a CPU with native bf16, AMX/AVX-512 BF16, or a GPU): 32/96/192 channels, SGD.
  ``fmnist-93-fp32`` (every other CPU): 24/72/144 channels, about 0.57× the arithmetic, and Muon for the hidden
  weights, which makes up the accuracy the narrower net loses. Every choice was made on a validation split
  (docs/benchmarks.md).
- ``house-prices`` (tabular data): the book's Kaggle house-prices settings (d2l §4.10): a linear model, Adam at
  lr 5, no weight decay, batch 64, 100 epochs, fp32 (bf16 is too coarse for prices).
- ``imdb-bilstm`` and ``imdb-textcnn`` (text data): the book's sentiment settings (d2l §16.2, §16.3): Adam,
  batch 64, a constant rate of 0.01 (bilstm) or 0.001 (textcnn), 5 epochs.

Two rules apply a recipe to other data or another model, and both live here (``recipe_config``): a recipe's
flips are kept only for datasets whose pictures stay what they are when mirrored (clothes yes, digits no),
and a recipe's ``model_options`` belong to its own model, so ``--model`` of another net starts without them.
"""

from __future__ import annotations

from typing import Any

from divekit.errors import ConfigError
from divekit.training.config import TrainConfig

# Settings of the machine a run is on, not of the recipe: never part of one.
ENVIRONMENT = ("data_dir", "device", "threads")
FLIP_SAFE = ("fashion-mnist", "fashion-mnist-mini")  # mirrored clothes are still clothes; digits are not

_COMMON: dict[str, Any] = {
    "data_options": {}, "model_options": {}, "betas": (0.9, 0.999), "eps": 1e-8, "step_size": 0, "gamma": 0.1,
    "clip_grad": None, "augment_crop": 0, "tta_shift": 0, "valid_fraction": 0.0, "resize": None,
    "fast_paths": True, "seed": 0, "eval_batch_size": 1000, "init": None, "freeze_epochs": 0,
    "finetune_lr_ratio": 0.1,
}
_NO_IMAGE_AUGMENTATION = {"augment_flip": False, "tta_flip": False}
_TEXT = {**_COMMON, **_NO_IMAGE_AUGMENTATION, "data": "imdb", "epochs": 5, "batch_size": 64, "opt": "adam",
         "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "schedule": "constant", "warmup": 0.0,
         "label_smoothing": 0.0, "precision": "auto", "channels_last": False, "test_every": 1,
         "task": "classification",
         "data_options": {"max_len": 500, "min_freq": 5, "level": "word", "lower": True, "punctuation": "split",
                          "embedding": None, "bucket": True}}

# the fmnist-93 recipes' shared settings: cnn3, one-cycle Nesterov SGD, label smoothing, flips, one-pixel crops
_FMNIST93: dict[str, Any] = {
    **_COMMON, "data": "fashion-mnist", "model": "cnn3", "batch_size": 256, "opt": "sgd", "lr": 0.2, "momentum": 0.9,
    "nesterov": True, "weight_decay": 5e-4, "schedule": "onecycle", "warmup": 0.25, "label_smoothing": 0.1,
    "augment_crop": 1, "augment_flip": True, "tta_flip": True, "channels_last": True, "test_every": 0,
    "task": "classification"}

RECIPES: dict[str, dict[str, Any]] = {
    "fast": {**_COMMON, "data": "fashion-mnist", "model": "fastcnn", "epochs": 3, "batch_size": 256, "opt": "muon",
             "lr": 0.2, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "schedule": "onecycle",
             "warmup": 0.25, "label_smoothing": 0.1, "augment_flip": True, "tta_flip": True, "precision": "auto",
             "channels_last": True, "test_every": 0, "task": "classification"},
    "plain": {**_COMMON, **_NO_IMAGE_AUGMENTATION, "data": "fashion-mnist", "model": "fastcnn", "epochs": 10,
              "batch_size": 256, "opt": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
              "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0, "precision": "auto",
              "channels_last": True, "test_every": 1, "task": "classification"},
    "fmnist-93-bf16": {**_FMNIST93, "model_options": {"channels": [32, 96, 192]}, "epochs": 15, "precision": "auto"},
    "fmnist-93-fp32": {**_FMNIST93, "model_options": {"channels": [24, 72, 144]}, "opt": "muon", "epochs": 15,
                       "precision": "fp32"},
    "house-prices": {**_COMMON, **_NO_IMAGE_AUGMENTATION, "data": "house-prices", "model": "linear", "epochs": 100,
                     "batch_size": 64, "opt": "adam", "lr": 5.0, "momentum": 0.0, "nesterov": False,
                     "weight_decay": 0.0, "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0,
                     "precision": "fp32", "channels_last": False, "test_every": 1, "task": "regression"},
    "imdb-bilstm": {**_TEXT, "model": "bilstm", "lr": 0.01},
    "imdb-textcnn": {**_TEXT, "model": "textcnn", "lr": 0.001},
}
# recipes with a variant per precision: divekit.api.recipe_variant picks the one for the machine, and says which
VARIANTS: dict[str, dict[str, str]] = {"fmnist-93": {"bf16": "fmnist-93-bf16", "fp32": "fmnist-93-fp32"}}
# the recipe a kind of data starts from: image data by whether --model was given, text data by its model
DEFAULTS = {("image", False): "fast", ("image", True): "plain", ("tabular", False): "house-prices",
            ("tabular", True): "house-prices", ("image-folder", False): "fast", ("image-folder", True): "plain"}


def default_recipe(kind: str, model: str | None) -> str:
    """The recipe a run on ``kind`` data starts from when none is named (``model``: the one given, if any)."""
    if kind == "text":
        return "imdb-textcnn" if model == "textcnn" else "imdb-bilstm"
    return DEFAULTS.get((kind, model is not None), "plain")


# names other libraries and the book use for a setting (Keras, Lightning, d2l's train functions)
OTHER_NAMES = {"learning_rate": "lr", "num_epochs": "epochs", "max_epochs": "epochs", "optimizer": "opt",
               "bs": "batch_size", "wd": "weight_decay", "net": "model", "dataset": "data"}


def _with_guess(name: str) -> str:
    """``'epochz' (epochs?)``: an unknown setting with the field it most likely means."""
    import difflib

    guess = OTHER_NAMES.get(name) or next(iter(difflib.get_close_matches(name, TrainConfig.__dataclass_fields__,
                                                                         n=1)), None)
    return f"{name!r}" + (f" ({guess}?)" if guess else "")


def recipe_config(name: str, overrides: dict[str, Any]) -> TrainConfig:
    """Recipe ``name`` with ``overrides`` (the settings the user gave: TrainConfig field names) applied."""
    if name not in RECIPES:
        raise ConfigError(f"--recipe {name}: unknown recipe; choose one of {', '.join(RECIPES)}")
    values = dict(RECIPES[name])
    unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        named = ", ".join(_with_guess(u) for u in sorted(unknown))
        raise ConfigError(f"unknown setting{'s' if len(unknown) > 1 else ''} {named}: see divekit.TrainConfig for "
                          f"the names")
    if "model" in overrides and overrides["model"] != values["model"]:
        values["model_options"] = {}  # the recipe's channels, hidden widths … were chosen for its own net
    data = overrides.get("data", values["data"])
    if data not in FLIP_SAFE:
        values.update(augment_flip=False, tta_flip=False)
    if "augment_flip" in overrides and "tta_flip" not in overrides:
        values["tta_flip"] = overrides["augment_flip"]  # evaluate on mirrored views only if trained on them
    for key in ("model_options", "data_options"):  # given options add to the recipe's own
        if key in overrides:
            overrides = {**overrides, key: {**values[key], **overrides[key]}}
    return TrainConfig(**{**values, **overrides, "recipe": name})
