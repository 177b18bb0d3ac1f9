"""``divekit summary MODEL --input 1x1x28x28``: per-layer shapes, parameters and MACs (no torch import here)."""

from __future__ import annotations

import argparse
import ast
import math
from typing import TYPE_CHECKING

from divekit.errors import ConfigError
from divekit.options import RANGES, parse

MAX_INPUT_ELEMENTS = 64 * 2**20  # a zero batch of 256 MiB in float32, and the activations it makes

if TYPE_CHECKING:  # torch is imported only when a command runs, so 'divekit --help' stays fast
    from torch import nn


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="a registered model name (see 'divekit models'), or FILE.py:NAME / package.module:NAME "
                             "naming an nn.Module instance or a callable returning one")
    parser.add_argument("--input", type=_shape, default=(1, 1, 28, 28), metavar="BxCxHxW",
                        help="input batch shape, batch first (default: 1x1x28x28); a registered image model "
                             "takes BxCxHxW or CxHxW (batch 1) and is built for the shape without the batch axis")
    parser.add_argument("--classes", type=parse("classes"), default=10,
                        help=f"number of classes, {RANGES['classes'].describe()} (registered models; default: 10)")
    parser.add_argument("--width", type=parse("width"), default=None, help="channel-width multiplier (zoo models)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="another builder option, e.g. -o variant=torchvision -o stem=small (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.lower().replace("×", "x").split("x"))
    except ValueError:
        shape = ()
    side = RANGES["input_side"]
    if not shape or not all(side.accepts(n) for n in shape):
        raise argparse.ArgumentTypeError(f"expected a shape like 1x1x28x28, each dimension {side.describe()}, "
                                         f"got {text!r}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_INPUT_ELEMENTS:,} input elements in all "
                                         f"(the summary runs the model on a batch of zeros), got {text!r}")
    return shape


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


def parse_options(items: list[str]) -> dict:
    """``["depth=16", "stem=small"]`` -> ``{"depth": 16, "stem": "small"}`` (Python literals, else strings)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"--option expects KEY=VALUE with KEY a name, got {item!r}")
        try:
            options[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key.strip()] = value
    return options


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


def run(args: argparse.Namespace) -> int:
    from divekit.models.registry import build_model, list_models
    from divekit.models.summarize import summary

    shape = args.input
    if ":" in args.model:
        model = load_user_model(args.model)
    else:
        options = parse_options(args.option)
        if args.width is not None:
            options["width"] = args.width
        # image builders read in_shape as (C, H, W); tabular and text models take their own layouts
        if any(m.name == args.model and m.kind == "image" for m in list_models()):
            shape = image_batch_shape(args.model, shape)
        model = build_model(args.model, shape[1:], args.classes, **options)
    fast: list[str] = []
    if ":" not in args.model:  # the model as training runs it: the same layers, through its fast path if any
        from divekit import speed

        model, fast = speed.speed_up_model(args.model, model)
    result = summary(model, shape)
    if args.json:
        from divekit.runs import json_text

        print(json_text({**result.to_dict(), "fast_paths": fast}, indent=None))
    else:
        print(result.table())
        for name in fast:
            from divekit.speed import FAST_PATHS

            print(f"training runs this model through the fast path {name}: {FAST_PATHS[name]} (the same layers and "
                  f"weights; 'divekit train --no-fast-paths' trains it on plain PyTorch)")
    return 0
