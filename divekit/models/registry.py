"""Build models by name: the registry behind ``divekit models`` and ``--model``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from divekit.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``build(in_shape, num_classes, **options) -> nn.Module``."""

    name: str
    build: Callable
    description: str
    kind: str = "image"  # what data it expects: image, tabular or text


MODELS: dict[str, ModelEntry] = {}
# modules that register models when imported (kept lazy so `divekit --help` never imports torch)
MODEL_MODULES = ["divekit.models.simple", "divekit.models.zoo", "divekit.models.text", "divekit.models.tabular",
                 "divekit.models.cnn3"]


def register(name: str, description: str, kind: str = "image") -> Callable:
    """Decorator adding a builder function to the registry under ``name``."""

    def deco(fn: Callable) -> Callable:
        MODELS[name] = ModelEntry(name, fn, description, kind)
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

    Raises:
        ConfigError: unknown model name or options it does not take.
    """
    _load_all()
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name].build(tuple(in_shape), int(num_classes), **options)
    except TypeError as e:
        raise ConfigError(f"model {name!r}: {e}") from None
