"""``divekit summary MODEL --input 1x1x28x28``: per-layer shapes, parameters and MACs (no torch import here)."""

from __future__ import annotations

import argparse
import ast

from divekit.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="a registered model name (see 'divekit models'), or FILE.py:NAME / package.module:NAME "
                             "naming an nn.Module instance or a callable returning one")
    parser.add_argument("--input", type=_shape, default=(1, 1, 28, 28), metavar="BxCxHxW",
                        help="input batch shape, batch first (default: 1x1x28x28); a registered model is built "
                             "for the shape without the batch axis")
    parser.add_argument("--classes", type=int, default=10, help="number of classes (registered models; default: 10)")
    parser.add_argument("--width", type=float, default=None, help="channel-width multiplier (zoo models)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="another builder option, e.g. -o variant=torchvision -o stem=small (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.lower().replace("×", "x").split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected a shape like 1x1x28x28 (positive integers), got {text!r}")
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


def load_user_model(spec: str):
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
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as e:
            raise ConfigError(f"cannot import {source!r} for model {spec!r}: {e}") from None
    if not hasattr(module, attr):
        raise ConfigError(f"{source} has no attribute {attr!r}")
    obj = getattr(module, attr)
    model = obj if isinstance(obj, nn.Module) else obj() if callable(obj) else None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec} is not an nn.Module, nor a callable returning one (got {type(model).__name__})")
    return model


def run(args: argparse.Namespace) -> int:
    from divekit.models.registry import build_model
    from divekit.models.summarize import summary

    if ":" in args.model:
        model = load_user_model(args.model)
    else:
        options = parse_options(args.option)
        if args.width is not None:
            options["width"] = args.width
        model = build_model(args.model, args.input[1:], args.classes, **options)
    result = summary(model, args.input)
    if args.json:
        import json

        print(json.dumps(result.to_dict()))
    else:
        print(result.table())
    return 0
