"""``divekit eval RUN``: evaluate a finished run's saved model (``divekit.api.Run.evaluate``)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory (or its name under --runs-dir)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--data-dir", help="where the dataset is looked for first (also when the run's data folder "
                                      "has moved)")
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from divekit import api

    run = api.load_run(args.run, args.runs_dir)
    metrics = run.evaluate(args.data_dir, args.device)
    names = {"acc": "accuracy", "log_rmse": "log-RMSE", "mse": "MSE"}
    shown = "  ".join(f"{metrics['split']} {names.get(k, k)} {v:.4f}" for k, v in metrics.items()
                      if k not in ("split", "examples") and isinstance(v, (int, float)))
    note = {"valid": ", the run's validation rows: its test file has no target column",
            "train": ", the training rows: the run held out no labelled rows"}.get(metrics["split"], "")
    print(f"{run.path}: {shown}  ({metrics['examples']} examples{note})")
    return 0
