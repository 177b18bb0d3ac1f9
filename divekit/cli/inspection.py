"""``divekit inspect --model NAME``: initial weights and gradient flow of a model, with a verdict."""

from __future__ import annotations

import argparse

from divekit.options import parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="an inspect model (mlp-sigmoid-deep, mlp-relu-xavier, mlp-big-init) or any "
                                   "name of 'divekit models'; without it, list the inspect models")
    p.add_argument("--init", choices=("default", "normal", "xavier", "kaiming"),
                   help="initialisation of linear/conv weights (default: the model's own)")
    p.add_argument("--std", type=parse("std"), help="standard deviation for --init normal, > 0 "
                                                         "(default 0.01; 1 for mlp-big-init)")
    p.add_argument("--seed", type=parse("seed"), default=0,
                   help="torch.manual_seed before building, in [0, 2^32) (default: %(default)s)")
    p.add_argument("--steps", type=parse("steps"), default=20, help="SGD steps recorded (default: %(default)s)")
    p.add_argument("--batch-size", type=parse("batch_size"), default=64)
    p.add_argument("--lr", type=parse("lr"), default=0.1, help="SGD learning rate (default: %(default)s)")
    p.add_argument("--data", default="fashion-mnist-mini", help="dataset of the batches (default: %(default)s)")
    p.add_argument("--data-dir", help="folder searched first for datasets")
    p.add_argument("--runs-dir", default="runs", help="where the run directory goes (default: %(default)s)")
    p.add_argument("--name", help="run name (default: inspect-MODEL-TIMESTAMP)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    if not args.model:
        from divekit.diagnose.gradient_flow import INSPECT_MODELS

        print("inspect models (any name of 'divekit models' works too):")
        for name, spec in INSPECT_MODELS.items():
            print(f"  {name:<18} {spec.description}")
        return 0
    import json

    from divekit.diagnose.inspect_run import format_result, inspect_model

    result = inspect_model(args.model, args.init, args.std, args.seed, args.steps, args.batch_size, args.lr,
                           args.data, args.data_dir, args.runs_dir, args.name)
    print(json.dumps(result, indent=2, default=str) if args.json else format_result(result))
    return 0
