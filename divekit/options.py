"""Argparse ``type=`` functions that check a number's range (no torch import here).

Shared by the commands (``divekit optim`` and ``divekit scratch`` so far). A bad value makes argparse print
``error: argument --x: expected …, got '…'`` and exit with status 2 before any run directory exists.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

SEED_MAX = 2**63 - 1  # numpy and torch both take a seed in [0, 2**63); a larger one overflows an int64


def float_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """A type function accepting a finite float between ``low`` and ``high``.

    Args:
        low: smallest accepted value, or None for no lower bound.
        high: largest accepted value, or None for no upper bound.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.

    Returns:
        A function that parses its text and raises ``argparse.ArgumentTypeError`` naming the range
        when the value is not a number, is NaN or infinite, or lies outside the range.
    """
    expected = _describe(low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = low is None or value > low or (not low_open and value == low)
        below = high is None or value < high or (not high_open and value == high)
        if not (math.isfinite(value) and above and below):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """A type function accepting an integer from ``low`` to ``high`` (inclusive; None: no upper bound).

    Returns:
        A function that parses its text and raises ``argparse.ArgumentTypeError`` naming the range
        when the text is not an integer or the integer lies outside the range.
    """
    expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also a string of more digits than int() converts
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """``a finite number``, ``a finite number > 0`` or ``a number in [0, 1)``."""
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return "a finite number"


positive_float = float_in(0, low_open=True)
fraction = float_in(0, 1, high_open=True)  # a decay rate or momentum: 1 would never forget, > 1 diverges
seed = int_in(0, SEED_MAX)
