"""Baseline for bench/overhead.py: the same recipe under PyTorch Lightning's ``Trainer``, against the same hand
loop timed in this process (interleaved), so the ratio never compares two processes.

Both arms use ``torch.optim.SGD`` with the recipe's settings (Lightning steps the optimizer with a closure);
the Lightning arm includes building its ``Trainer``, as divekit's arm includes building its optimizer.
Run it with a Python that has ``lightning`` (a side environment, never the project's):
    LIGHTNING_ENV/bin/python bench/baselines/lightning_fit.py --model mlp --steps 1000 --repeat 7
Prints one JSON line per run and a summary line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for overhead.py

import lightning as L  # noqa: E402
import overhead  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def sgd(model: torch.nn.Module, config) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


class Module(L.LightningModule):
    """The network, its loss and its optimizer, the Lightning way."""

    def __init__(self, net: torch.nn.Module, config) -> None:
        super().__init__()
        self.net, self.config = net, config

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return sgd(self.net, self.config)


class Batches:
    """The pre-made batches as one iterable (a plain list would be taken for a list of loaders)."""

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def run_lightning(model: torch.nn.Module, batches: list, config) -> None:
    accelerator = "gpu" if config.device.startswith("cuda") else "cpu"
    trainer = L.Trainer(max_steps=len(batches), max_epochs=1, accelerator=accelerator, devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(Module(model, config), train_dataloaders=Batches(batches))
    model.to(config.device)  # Lightning hands a GPU-trained model back on the CPU; the next arm needs it there


def run_hand(model: torch.nn.Module, batches: list, config) -> None:
    overhead.hand_loop(model, batches, sgd(model, config))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mlp", choices=list(overhead.MODELS))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=os.environ.get("DIVEKIT_DATA"))
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning").setLevel(logging.ERROR)  # no banner per run
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    summary = overhead.compare({"hand": run_hand, "lightning": run_lightning}, args.model, args.steps,
                               args.repeat, args.batch, args.data_dir, ours="lightning",
                               device=args.device)
    summary["lightning_version"] = L.__version__
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
