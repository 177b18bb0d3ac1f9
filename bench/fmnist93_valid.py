"""Validation runs behind the ``fmnist-93`` recipe: the test set is never loaded.

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

from divekit.data.images import load_dataset
from divekit.training.config import TrainConfig
from divekit.training.fit import fit
from divekit.training.recipes import RECIPES
from divekit.training.run import build_data, prepare_model, seed_everything


def setup(settings: dict, threads: int):
    """Model and loaders for the recipe with ``settings`` on top, validation split 0.1; no test set."""
    torch.set_num_threads(threads)
    config = TrainConfig(**{**RECIPES["fmnist-93"], "valid_fraction": 0.1, **settings}).validate()
    seed_everything(config.seed)
    train = load_dataset(config.data, "train", config.data_dir)
    model, channels_last = prepare_model(config, train.shape, train.num_classes, torch.device("cpu"))
    # build_data wants a test set: give it 10 training images; fit is never handed its loader
    data = build_data(config, train, train.subset(torch.arange(10)), torch.device("cpu"), channels_last)
    return config, model, data


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
    args = p.parse_args()
    settings = json.loads(args.settings)
    config, model, data = setup(settings, args.threads)
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
