"""``divekit lr-find``: the learning-rate range test of any ``divekit train`` command (``divekit.api.lr_find``).

The net trains on the training split only while the rate grows exponentially; the suggestion and a usable range
are printed and the curve drawn as PNG. No run directory is written. No torch import at module level.
"""

from __future__ import annotations

import argparse

from divekit.cli.train import add_training_arguments, settings_from_args
from divekit.options import parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    g = p.add_argument_group("range test")
    g.add_argument("--start-lr", type=parse("lr"), default=1e-7, help="first rate (default: %(default)g)")
    g.add_argument("--end-lr", type=parse("lr"), default=10.0, help="last rate (default: %(default)g)")
    g.add_argument("--steps", type=parse("sweep_steps"), default=100,
                   help="training steps from the first rate to the last (default: %(default)s)")
    g.add_argument("--diverge", type=parse("diverge"), default=4.0,
                   help="stop once the smoothed loss passes this many times its minimum (default: %(default)g)")
    g.add_argument("--out", default="lr-find.png", help="where the plot goes (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from divekit import api
    from divekit.errors import ConfigError

    if args.name is not None:
        raise ConfigError("--name: lr-find writes no run directory; --out names its plot")
    result = api.lr_find(recipe=args.recipe, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps,
                         diverge=args.diverge, out=args.out, **settings_from_args(args))
    print("\n".join(result.lines()))
    print(f"plot: {args.out}")
    return 0
