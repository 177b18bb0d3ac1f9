"""Learning-rate schedules as pure functions of the step (timm style): easy to test, plot and resume."""

from __future__ import annotations

import math

from divekit.training.config import SCHEDULES


def lr_at(step: int, total_steps: int, base_lr: float, kind: str = "constant", warmup_steps: int = 0,
          step_size: int = 0, gamma: float = 0.1, final_ratio: float = 0.0) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    Args:
        kind: ``constant``; ``step`` (multiply by ``gamma`` every ``step_size`` steps); ``cosine``
            (half cosine from ``base_lr`` to ``final_ratio * base_lr``); ``onecycle`` (linear warm-up
            from 0 over ``warmup_steps``, then cosine down to ``final_ratio * base_lr``).
        warmup_steps: linear warm-up applied before ``constant``, ``step`` and ``cosine`` too.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if kind == "constant":
        return base_lr
    if kind == "step":
        return base_lr * gamma ** ((step - warmup_steps) // max(step_size, 1))
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return base_lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
