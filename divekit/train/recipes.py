"""Named starting points for ``divekit train``; explicit flags always win.

- ``fast`` (the default when no ``--model`` is given): the tuned Fashion-MNIST recipe, see TrainConfig.
- ``plain`` (the default when ``--model`` is given): the book's style, plain SGD at a constant rate,
  nothing hidden: no momentum, weight decay, label smoothing, augmentation or warm-up.
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    "fast": {"test_every": 0},  # the test set is for reporting, not for choices: measure it once, at the end
    "plain": {"epochs": 10, "lr": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
              "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0, "augment_flip": False,
              "tta_flip": False, "test_every": 1},
}
FLIP_SAFE = ("fashion-mnist", "fashion-mnist-mini")  # mirrored clothes are still clothes; digits are not
