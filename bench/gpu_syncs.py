"""Host-device synchronisations of ``divekit train`` on a GPU, per training step and per epoch.

On a GPU the host should queue step after step without waiting for the device; each synchronisation (a
``.item()``, a copy from pageable host memory, …) makes it wait for all work queued so far, so the device idles
while Python prepares the next step. This runs a recipe for two epochs with ``torch.cuda.set_sync_debug_mode``
on and counts the synchronisations in the second epoch: between the end of its first step and the end of its
last (``per_step``: steps only) and from the end of the first epoch's last step on (``per_epoch``: steps, the
epoch's loader set-up, its metrics and evaluation). Where each comes from is listed (file:line, count).

Prints one JSON line per recipe. Needs a CUDA GPU.
Usage: python bench/gpu_syncs.py [--recipes default,fmnist-93] [--data-dir DIR] [--device cuda]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from divekit.cli.train import add_arguments, config_from_args  # noqa: E402
from divekit.training.run import train_run  # noqa: E402


class SyncCounter:
    """A callback noting how many synchronisation warnings had been recorded at each step's and epoch's end."""

    def __init__(self, caught: list) -> None:
        self.caught, self.at_step_end, self.at_epoch_end = caught, [], []

    def on_step_end(self, state) -> None:
        self.at_step_end.append(len(self.caught))

    def on_epoch_end(self, state) -> None:
        self.at_epoch_end.append(len(self.caught))


def count(recipe: str, data_dir: str | None, device: str = "cuda") -> dict:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--epochs", "2", "--device", device] + ([] if recipe == "default" else ["--recipe", recipe])
    config = config_from_args(parser.parse_args(argv + (["--data-dir", data_dir] if data_dir else [])))
    with tempfile.TemporaryDirectory() as runs, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")  # record the synchronisation warnings alone, every one of them
        warnings.filterwarnings("always", message=".*synchroniz")
        counter = SyncCounter(caught)
        if device != "cpu":
            torch.cuda.set_sync_debug_mode("warn")
        try:
            _, state = train_run(config, runs, "syncs", callbacks=[counter])  # the pipeline divekit.train runs
        finally:
            if device != "cpu":
                torch.cuda.set_sync_debug_mode("default")
    steps = state.steps_per_epoch
    marks = counter.at_step_end
    first, last, prev_last = marks[steps], marks[2 * steps - 1], marks[steps - 1]
    where = collections.Counter(f"{os.path.relpath(w.filename)}:{w.lineno}" for w in caught[prev_last:last])
    name = torch.cuda.get_device_name(0) if device != "cpu" else "cpu"
    return {"bench": "gpu_syncs", "recipe": recipe, "device": name,
            "steps_per_epoch": steps, "per_step": round((last - first) / (steps - 1), 3),
            "per_epoch": counter.at_epoch_end[1] - counter.at_epoch_end[0], "whole_run": len(caught),
            "test_acc": state.history[-1].get("test_acc"), "where_epoch2": dict(where.most_common(12))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default="default,fmnist-93")
    ap.add_argument("--data-dir", default=os.environ.get("DIVEKIT_DATA"))
    ap.add_argument("--device", default="cuda", help="cuda (cpu only checks that the script runs: no counts)")
    args = ap.parse_args()
    if args.device != "cpu" and not torch.cuda.is_available():
        raise SystemExit("gpu_syncs: no CUDA GPU here")
    for recipe in args.recipes.split(","):
        print(json.dumps(count(recipe, args.data_dir, args.device)), flush=True)


if __name__ == "__main__":
    main()
