"""The model ``divekit summary`` describes: a registered model built for an input shape, or the user's own
``nn.Module`` from a file or module (``FILE.py:NAME``, ``package.module:NAME``), as training would run it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from divekit.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


def image_batch_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` as the ``B×C×H×W`` batch an image model ``name`` needs, ``C×H×W`` read as one image.

    Raises:
        ConfigError: ``shape`` has neither 3 nor 4 axes; the message names ``--input``.
    """
    if len(shape) == 3:
        return (1, *shape)
    if len(shape) != 4:
        got = "x".join(map(str, shape))
        raise ConfigError(f"--input {got}: image model {name!r} needs CxHxW or BxCxHxW (e.g. 1x1x28x28), "
                          f"got {len(shape)} dimension{'s' if len(shape) != 1 else ''}")
    return shape


def _describe(error: Exception) -> str:
    """``Type: message`` on one line; a syntax error also gives its line, as the file is the user's."""
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def load_user_model(spec: str) -> nn.Module:
    """The ``nn.Module`` named by ``FILE.py:NAME`` or ``package.module:NAME`` (called if it is not a module)."""
    import importlib
    import importlib.util
    from pathlib import Path

    from torch import nn

    source, _, attr = spec.rpartition(":")
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"model file {path} not found")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as e:  # the user's own code failed: one line here, the traceback under --debug
            raise ConfigError(f"{path}: cannot import: {_describe(e)}") from e
    else:
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as e:
            raise ConfigError(f"cannot import {source!r} for model {spec!r}: {e}") from None
        except Exception as e:
            raise ConfigError(f"{source}: cannot import: {_describe(e)}") from e
    if not hasattr(module, attr):
        raise ConfigError(f"{source} has no attribute {attr!r}")
    obj = getattr(module, attr)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise ConfigError(f"{spec}: expected an nn.Module or a model class/factory, but {attr!r} is a "
                          f"{type(obj).__name__} attribute of {source}")
    try:
        model = obj()
    except Exception as e:
        raise ConfigError(f"{spec}: calling {attr}() to build the model failed: {_describe(e)}") from e
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec}: expected a model class/factory, but calling {attr!r} gave a "
                          f"{type(model).__name__}, not an nn.Module")
    return model


def model_for_summary(spec: str, shape: tuple[int, ...], classes: int,
                      options: dict[str, Any]) -> tuple[nn.Module, tuple[int, ...], list[str]]:
    """``(model, input batch shape, fast paths)`` for ``divekit summary``: a user's module as it is, or a
    registered model built for ``shape`` and given the fast path training runs it through (the same layers)."""
    if ":" in spec:
        return load_user_model(spec), shape, []
    from divekit import speed
    from divekit.models.registry import build_model, list_models

    # image builders read in_shape as (C, H, W); tabular and text models take their own layouts
    if any(m.name == spec and m.kind == "image" for m in list_models()):
        shape = image_batch_shape(spec, shape)
    model, fast = speed.speed_up_model(spec, build_model(spec, shape[1:], classes, **options))
    return model, shape, fast
