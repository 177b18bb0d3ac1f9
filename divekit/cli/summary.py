"""``divekit summary MODEL --input 1x1x28x28``: per-layer shapes, parameters and MACs (no torch import here)."""

from __future__ import annotations

import argparse
import ast
import math

from divekit.errors import ConfigError
from divekit.options import RANGES, parse

MAX_INPUT_ELEMENTS = 64 * 2**20  # a zero batch of 256 MiB in float32, and the activations it makes


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


def run(args: argparse.Namespace) -> int:
    from divekit.models.summarize import summary
    from divekit.models.user import model_for_summary
    from divekit.speed import FAST_PATHS

    options = parse_options(args.option)
    if args.width is not None:
        options["width"] = args.width
    model, shape, fast = model_for_summary(args.model, args.input, args.classes, options)
    result = summary(model, shape)
    if args.json:
        from divekit.runs import json_text

        print(json_text({**result.to_dict(), "fast_paths": fast}, indent=None))
        return 0
    print(result.table())
    for name in fast:
        print(f"training runs this model through the fast path {name}: {FAST_PATHS[name]} (the same layers and "
              f"weights; 'divekit train --no-fast-paths' trains it on plain PyTorch)")
    return 0
