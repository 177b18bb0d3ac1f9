"""``divekit scratch [LESSON]``: list the from-scratch lessons or run one (no torch import at top level)."""

from __future__ import annotations

import argparse

from divekit.options import RANGES, parse
from divekit.scratch.lessons import LESSONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "lesson",
        nargs="?",
        choices=sorted(LESSONS),
        metavar="LESSON",
        help=f"lesson to run, one of: {', '.join(LESSONS)} (none: list them)",
    )
    parser.add_argument("--seed", type=parse("seed"), default=0, help="random seed, 0 to 2**32 - 1 (default: 0)")
    parser.add_argument(
        "--epochs", type=parse("epochs"), default=None,
        help=f"epochs to train, {RANGES['epochs'].describe()} (default: the lesson's own)"
    )
    parser.add_argument("--runs-dir", default=None, help="where run directories are created (default: runs)")


def run(args: argparse.Namespace) -> int:
    if not args.lesson:
        print("From-scratch lessons (run one with: divekit scratch LESSON [--seed N] [--epochs N]):")
        for name, (_, description) in LESSONS.items():
            print(f"  {name:<11} {description}")
        return 0

    import torch

    from divekit.runs import new_run_dir, write_json
    from divekit.scratch import lessons

    run_dir = new_run_dir(args.runs_dir or "runs", f"scratch-{args.lesson}")
    torch.manual_seed(args.seed)
    print(f"lesson {args.lesson}: {LESSONS[args.lesson][1]} (seed {args.seed})")
    summary = lessons.get(args.lesson)(run_dir, seed=args.seed, epochs=args.epochs)
    write_json(run_dir / "summary.json", {"lesson": args.lesson, "seed": args.seed, **summary})
    print(f"figures and summary.json written to {run_dir}")
    return 0
