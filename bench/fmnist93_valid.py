"""Validation runs behind the ``fmnist-93`` recipes: the test set is never used.

Trains on 90 % of the Fashion-MNIST training set (``train_valid_split``, seed 0) and reports the accuracy on
the held-out 10 % after each epoch, with the CPU seconds of the process (steadier than wall time on a busy
machine). ``time`` mode measures only the training step's CPU seconds per epoch, from a few steps.

Usage (one JSON line per result; settings are TrainConfig fields as JSON, on top of the recipe):
    python bench/fmnist93_valid.py valid '{"model_options": {"width": 1.5}, "epochs": 16}' --threads 1
    python bench/fmnist93_valid.py time '{"model": "fastcnn"}' --steps 20 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from divekit import api
from divekit.training import image
from divekit.training.fit import fit
from divekit.training.run import seed_everything, split


def setup(settings: dict, threads: int, recipe: str):
    """Model and loaders for ``recipe`` with ``settings`` on top and a validation split of 0.1, as
    ``divekit train`` prepares them; the test loader is never handed to ``fit``."""
    torch.set_num_threads(threads)
    config = api.config(recipe, **{"valid_fraction": 0.1, **settings})
    seed_everything(config.seed)
    examples = image.load(config)
    prepared = image.prepare(config, examples, *split(config, examples), torch.device("cpu"))
    return config, prepared.model, prepared.loaders


def time_steps(model, loader, steps: int) -> float:
    """CPU seconds of ``steps`` SGD steps (after 3 untimed ones), scaled to one epoch of ``loader``."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    batches = iter(loader)

    def run(n: int) -> None:
        for _ in range(n):
            x, y = next(batches)
            loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()

    run(3)
    start = time.process_time()
    run(steps)
    return (time.process_time() - start) * len(loader) / steps


class EpochLine:
    def on_epoch_end(self, state) -> None:
        row = state.history[-1]
        print(json.dumps({"epoch": row["epoch"], "train_acc": round(row["train_acc"], 4),
                          "valid_acc": round(row["valid_acc"], 4), "cpu_s": round(time.process_time(), 1)}),
              flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("valid", "time"))
    p.add_argument("settings", nargs="?", default="{}", help="TrainConfig fields as JSON, over the recipe")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="timed steps for 'time'")
    p.add_argument("--recipe", default="fmnist-93", help="the recipe the settings change (default: %(default)s)")
    args = p.parse_args()
    settings = json.loads(args.settings)
    config, model, data = setup(settings, args.threads, args.recipe)
    params = sum(p.numel() for p in model.parameters())
    if args.mode == "time":
        print(json.dumps({"settings": settings, "params": params, "threads": args.threads,
                          "cpu_s_per_epoch": round(time_steps(model, data.train, args.steps), 1)}))
        return
    start = time.process_time()
    state = fit(model, data.train, config, data.valid, None, [EpochLine()])
    print(json.dumps({"settings": settings, "params": params, "threads": args.threads, "epochs": config.epochs,
                      "valid_acc": round(state.history[-1]["valid_acc"], 4),
                      "cpu_s": round(time.process_time() - start, 1)}))


if __name__ == "__main__":
    main()
