"""Build models by name: the registry behind ``divekit models`` and ``--model``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from divekit.errors import ConfigError
from divekit.models.checks import check_in_shape, check_input_size, check_num_classes, check_options


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``build(in_shape, num_classes, **options) -> nn.Module``.

    ``suggested_side``: for an image model built for larger images, a side it trains well at on a CPU, offered
    when an input is too small for it.
    """

    name: str
    build: Callable
    description: str
    kind: str = "image"  # what data it expects: image, tabular or text
    suggested_side: int | None = None


MODELS: dict[str, ModelEntry] = {}
# modules that register models when imported (kept lazy so `divekit --help` never imports torch)
MODEL_MODULES = ["divekit.models.simple", "divekit.models.zoo", "divekit.models.text", "divekit.models.tabular",
                 "divekit.models.cnn3"]


def register(name: str, description: str, kind: str = "image", suggested_side: int | None = None) -> Callable:
    """Decorator adding a builder function to the registry under ``name``."""

    def deco(fn: Callable) -> Callable:
        MODELS[name] = ModelEntry(name, fn, description, kind, suggested_side)
        return fn

    return deco


def _load_all() -> None:
    import importlib

    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def list_models() -> list[ModelEntry]:
    """All registered models, sorted by name."""
    _load_all()
    return sorted(MODELS.values(), key=lambda m: m.name)


def build_model(name: str, in_shape: tuple[int, ...] = (1, 28, 28), num_classes: int = 10, **options):
    """Build the model registered as ``name`` for inputs of ``in_shape`` (without batch) and ``num_classes``.

    The arguments are checked first (``divekit.models.checks``): ``in_shape``, ``num_classes`` and the
    ``width``/``hidden``/``dropout`` options against the option table and option names against the builder's
    parameters. An image model is then built and one zero image of ``in_shape`` run through it; when that
    fails, builds on the meta device find the smallest input that fits (``_build_image_model``).

    Raises:
        ConfigError: unknown model name, an argument out of range, an option the model does not take, or an
            input too small for the network (the message gives the smallest size and how to resize).
    """
    _load_all()
    if name not in MODELS:
        own = (" (a model of your own, FILE.py:NAME, is summarised by 'divekit summary'; train it from Python with "
               "divekit.training.fit.fit(model, loader, config))") if ":" in name or name.endswith(".py") else ""
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}{own}")
    entry = MODELS[name]
    shape, num_classes = check_in_shape(in_shape), check_num_classes(num_classes)
    check_options(name, entry.build, options)
    try:
        if entry.kind == "image":
            return _build_image_model(entry, shape, num_classes, options)
        return entry.build(shape, num_classes, **options)
    except (TypeError, ValueError) as e:  # an option value of the wrong type or form, found by the builder
        raise ConfigError(f"model {name}: {e}") from None


def _build_image_model(entry: ModelEntry, shape: tuple[int, ...], num_classes: int, options: dict):
    """The model, built for real and checked with one zero image in eval mode (no gradient, no random number
    drawn, no statistic updated). Only when that fails do meta-device builds explain the failure: the first
    meta build of a process imports torch's symbolic-shape machinery (0.9 s on 2 cores, a tenth of the default
    run), while this check costs a batch-1 forward. A model with lazy layers is checked on the meta device
    instead, as materialising its layers here would draw its random initial weights early."""
    import torch
    from torch import nn

    explain = (entry.name, entry.build, shape, num_classes, options, entry.suggested_side)
    try:
        model = entry.build(shape, num_classes, **options)
        lazy = any(nn.parameter.is_lazy(p) for p in model.parameters())
        if not lazy:
            was_training = model.training
            with torch.no_grad():
                model.eval()(torch.zeros(1, *shape))
            model.train(was_training)
    except RuntimeError as e:  # too small an input (a builder that measures its layers fails while building)
        check_input_size(*explain)  # a ConfigError naming the smallest size, when the size is the cause
        raise e from None  # else the model's own error
    if lazy:
        check_input_size(*explain)
    return model
