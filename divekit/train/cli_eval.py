"""``divekit eval RUN``: evaluate a finished run on its test set."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory (or its name under --runs-dir)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--data-dir", help="override where the dataset is looked for")
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from divekit.data.images import load_dataset
    from divekit.runs import resolve_run_dir
    from divekit.train.device import resolve_precision
    from divekit.train.fit import evaluate
    from divekit.train.run import eval_loader, load_run

    run_dir = resolve_run_dir(args.run, args.runs_dir)
    model, config, meta, channels_last = load_run(run_dir, args.device)
    device = next(model.parameters()).device
    test_set = load_dataset(config.data, "test", args.data_dir or config.data_dir)
    loader = eval_loader(test_set, config, device, channels_last)
    metrics = evaluate(model, loader, device, resolve_precision(config.precision, device), config.tta_flip,
                       config.task)
    print(f"{run_dir}: test loss {metrics['loss']:.4f}  test accuracy {metrics.get('acc', float('nan')):.4f}  "
          f"({len(test_set)} examples)")
    return 0
