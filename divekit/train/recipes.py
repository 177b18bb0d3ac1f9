"""Named starting points for ``divekit train``; explicit flags always win.

- ``fast`` (the default when no ``--model`` is given): the tuned Fashion-MNIST recipe, TrainConfig's defaults
  with the Muon optimizer (divekit/train/muon.py); the test set is evaluated once, after the last epoch.
- ``plain`` (the default when ``--model`` is given): the book's style, plain SGD at a constant rate,
  nothing hidden: no momentum, weight decay, label smoothing, augmentation or warm-up.
- ``fmnist-93``: aims at ≥ 93.5 % Fashion-MNIST test accuracy within 3 minutes on a 2-core CPU: the
  ``cnn3`` net (its first block at full resolution) at 32/96/192 channels, 15 epochs, random flips and
  one-pixel random crops, flip test-time augmentation, one-cycle SGD with Nesterov momentum and label
  smoothing, bf16 where the CPU has it natively (AMX/AVX-512 BF16: about 2.5× the fp32 speed; elsewhere fp32,
  which takes about twice the budget).
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    # the test set is for reporting, not for choices: measure it once, at the end
    "fast": {"opt": "muon", "test_every": 0},
    "plain": {"epochs": 10, "opt": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
              "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0, "augment_flip": False,
              "tta_flip": False, "test_every": 1},
    # aims at ≥ 93.5 % on Fashion-MNIST in ≤ 3 min on 2 CPU cores; every choice was made on a validation split, see
    # docs/benchmarks.md "fmnist-93 recipe". All optimisation knobs are spelled out so it never drifts with
    # TrainConfig's defaults.
    "fmnist-93": {"data": "fashion-mnist", "model": "cnn3", "model_options": {"channels": [32, 96, 192]},
                  "epochs": 15, "batch_size": 256, "opt": "sgd", "lr": 0.2, "momentum": 0.9, "nesterov": True,
                  "weight_decay": 5e-4, "schedule": "onecycle", "warmup": 0.25, "label_smoothing": 0.1,
                  "augment_crop": 1, "augment_flip": True, "tta_flip": True, "precision": "auto",
                  "test_every": 0},
}
FLIP_SAFE = ("fashion-mnist", "fashion-mnist-mini")  # mirrored clothes are still clothes; digits are not
