"""The ranges of every numeric option, in one table, and the checks built on it (no torch import here).

``RANGES`` names each option once (``lr``, ``epochs``, ``threads`` …) with the values it accepts. The command
line uses ``parse(name)`` as an argparse ``type=``, so a bad value is one line, ``error: argument --lr:
expected …, got '…'``, with exit status 2, before any run directory exists. The Python API checks the same
table with ``check(name, value)``, which raises ``ConfigError`` with the same words. A bound that depends on
the machine (``threads``) is a function, read when the option is checked.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from divekit.errors import ConfigError
from divekit.machine import cores, max_threads  # noqa: F401 (cores: part of this module's interface)

SEED_MAX = 2**32 - 1  # numpy's seed is 32 bits; torch takes it too
MAX_RATE = 1e38  # float32 holds up to 3.4e38: a larger learning rate or decay is refused by torch itself


@dataclass(frozen=True)
class Range:
    """The values an option accepts: an ``int`` or a finite ``float`` between ``low`` and ``high``."""

    kind: type
    low: float | None = None
    high: float | Callable[[], float] | None = None
    low_open: bool = False
    high_open: bool = False

    def upper(self) -> float | None:
        return self.high() if callable(self.high) else self.high

    def describe(self) -> str:
        """``an integer from 1 to 10000``, ``a number in (0, 1e+38]``, ``a finite number > 0`` …"""
        low, high = self.low, self.upper()
        if self.kind is int:
            return f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        if low is not None and high is not None:
            return f"a number in {'(' if self.low_open else '['}{low:g}, {high:g}{')' if self.high_open else ']'}"
        if low is not None:
            return f"a finite number {'>' if self.low_open else '>='} {low:g}"
        if high is not None:
            return f"a finite number {'<' if self.high_open else '<='} {high:g}"
        return "a finite number"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        low, high = self.low, self.upper()
        above = low is None or value > low or (not self.low_open and value == low)
        below = high is None or value < high or (not self.high_open and value == high)
        return above and below

    def parse(self, text: str) -> int | float:
        """Parse command-line text; ``argparse.ArgumentTypeError`` naming the range when it does not fit."""
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except ValueError:  # also an integer of more digits than int() converts
            value = math.nan
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}")
        return value

    __call__ = parse  # a Range is itself an argparse ``type=``


def float_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> Range:
    return Range(float, low, high, low_open, high_open)


def int_in(low: int, high: int | Callable[[], int] | None = None) -> Range:
    return Range(int, low, high)


POSITIVE = float_in(0, MAX_RATE, low_open=True)
FRACTION = float_in(0, 1, high_open=True)  # a decay rate or momentum: 1 would never forget, > 1 diverges

# option name (as the flag, without dashes, underscores for hyphens) -> the values it accepts
RANGES: dict[str, Range] = {
    # training
    "epochs": int_in(1, 10_000),
    "batch_size": int_in(1, 1_000_000),
    "eval_batch_size": int_in(1, 1_000_000),
    "lr": POSITIVE,
    "momentum": FRACTION,
    "weight_decay": float_in(0, MAX_RATE),
    "eps": float_in(0, 1, low_open=True),
    "warmup": float_in(0, 1_000_000_000),  # a share of all steps (< 1) or steps; longer than the run: refused later
    "step_size": int_in(1, 1_000_000_000),
    "gamma": float_in(0, 1, low_open=True),  # the step schedule's decay factor: > 1 would grow the rate
    "label_smoothing": FRACTION,
    "clip_grad": POSITIVE,
    "augment_crop": int_in(0, 64),
    "tta_shift": int_in(0, 8),
    "resize": int_in(1, 1024),
    "image_size": int_in(1, 1024),
    "min_freq": int_in(1, 1_000_000),
    "max_len": int_in(1, 100_000),
    "export_samples": int_in(1, 1_000_000),
    "threads": int_in(1, max_threads),
    "seed": int_in(0, SEED_MAX),
    "test_every": int_in(0, 10_000),
    "valid_fraction": FRACTION,
    "checkpoint_every": int_in(0, 1_000_000_000),
    "freeze_epochs": int_in(0, 10_000),
    "finetune_lr_ratio": float_in(0, 1, low_open=True),  # the first layer's rate over the head's when fine-tuning
    # models
    "width": float_in(0, 16, low_open=True),
    "hidden": int_in(1, 65_536),
    "dropout": FRACTION,
    "classes": int_in(1, 100_000),
    "input_side": int_in(1, 4096),  # one dimension of summary --input
    "input_channels": int_in(1, 4096),
    # k-fold
    "k": int_in(2, 100_000),
    "patience": int_in(1, 10_000),
    # inspect
    "std": float_in(0, 1e6, low_open=True),
    "steps": int_in(1, 10_000),
    # optimization lab: float64 toy problems, where a huge step is a lesson in divergence, not an error
    "lab_lr": float_in(0, low_open=True),
    "lab_decay": FRACTION,
    "lab_eps": float_in(0, low_open=True),
    "lab_damped_eta": float_in(0, 1, low_open=True),
    "lab_noise": float_in(0),
    "lab_x0": float_in(),
    "lab_samples": int_in(1, 1_000_000),
    # learning-rate range test and hyperparameter search
    "sweep_steps": int_in(5, 10_000),
    "diverge": float_in(1, 1e6, low_open=True),  # the loss this many times its minimum ends an lr-find sweep
    "trials": int_in(1, 1_000_000),
    "workers": int_in(1, 1024),
    "timeout": float_in(0, 1e9, low_open=True),
}


def parse(name: str) -> Callable[[str], int | float]:
    """The argparse ``type=`` for option ``name`` (a key of ``RANGES``)."""
    rng = RANGES[name]

    def parse_option(text: str) -> int | float:
        return rng.parse(text)

    parse_option.__name__ = name  # argparse names the type in some messages
    return parse_option


def check(name: str, value: Any, flag: str | None = None) -> Any:
    """``value`` if option ``name`` accepts it, else ``ConfigError`` naming ``flag`` (default ``--name``)."""
    rng = RANGES[name]
    if not rng.accepts(value):
        flag = flag or f"--{name.replace('_', '-')}"
        raise ConfigError(f"{flag}: expected {rng.describe()}, got {value!r}")
    return value


# the forms the lab's and lessons' options used before the table (their values are in RANGES too)
positive_float = POSITIVE.parse
fraction = FRACTION.parse
seed = RANGES["seed"].parse
