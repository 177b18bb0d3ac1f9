"""``divekit eval RUN``: evaluate a finished run on its test set."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory (or its name under --runs-dir)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--data-dir", help="override where the dataset is looked for")
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from divekit.runs import resolve_run_dir
    from divekit.train.tasks import evaluator_for, trained_run_kind

    return evaluator_for(trained_run_kind(resolve_run_dir(args.run, args.runs_dir), "evaluate"))(args)


def eval_images(args: argparse.Namespace) -> int:
    """Image classification: test loss and accuracy of the saved model, evaluated as in training."""
    from divekit.runs import resolve_run_dir
    from divekit.train.fit import evaluate
    from divekit.train.run import open_test_run

    t = open_test_run(resolve_run_dir(args.run, args.runs_dir), args.device, args.data_dir)
    metrics = evaluate(t.model, t.loader, t.device, t.dtype, t.config.tta_flip, t.config.task,
                       tta_shift=t.config.tta_shift)
    print(f"{t.run_dir}: test loss {metrics['loss']:.4f}  test accuracy {metrics.get('acc', float('nan')):.4f}  "
          f"({len(t.test_set)} examples)")
    return 0
