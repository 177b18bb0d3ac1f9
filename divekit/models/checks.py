"""The checks ``build_model`` runs before it builds a model, so that a bad argument is one clear ``ConfigError``.

- ``in_shape`` and ``num_classes`` are checked against the option table (``divekit.options.RANGES``);
- an option the model's builder has no parameter for is named as the user gave it (``--width``, ``-o KEY``),
  with the options the builder does take;
- ``width``, ``hidden`` and ``dropout`` are checked against the table, as on the command line;
- an image model is first built and run on the meta device (shapes only, no memory or compute), so an input
  too small for its convolutions and pools is refused with the smallest size that fits and how to resize.

No torch import at module level: ``divekit.models.registry`` imports this module and must stay torch-free.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any

from divekit.errors import ConfigError
from divekit.options import RANGES, check, int_in

# the model options that have a command-line flag of their own; any other is given as ``-o KEY=VALUE``
FLAGGED = ("width", "hidden", "dropout")
ANY_SIZE = int_in(1)  # a feature count or a sequence length: bounded by memory, not by the table
IMAGE_DIMS = ("input_channels", "input_side", "input_side")  # (C, H, W) of an image model's in_shape


def as_int(value: Any) -> Any:
    """``value`` as a plain ``int`` when it is an integer of any kind (numpy's too), else unchanged."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def check_num_classes(num_classes: Any) -> int:
    """``num_classes`` as an ``int``; ``ConfigError`` unless it is an integer in the table's ``classes`` range."""
    return check("classes", as_int(num_classes), "num_classes")


def check_in_shape(in_shape: Any) -> tuple[int, ...]:
    """``in_shape`` as a tuple of ``int``: an image's ``(C, H, W)`` within the table's ``input_channels`` and
    ``input_side``, any other shape (features, tokens) of integers ≥ 1."""
    try:
        shape = tuple(as_int(n) for n in in_shape)
    except TypeError:
        shape = ()
    if not shape:
        raise ConfigError(f"in_shape: expected a tuple of sizes without the batch axis, such as (1, 28, 28) for "
                          f"an image or (80,) for 80 features, got {in_shape!r}")
    for i, n in enumerate(shape):
        if len(shape) == 3:
            check(IMAGE_DIMS[i], n, f"in_shape[{i}]")
        elif not ANY_SIZE.accepts(n):
            raise ConfigError(f"in_shape[{i}]: expected {ANY_SIZE.describe()}, got {n!r}")
    return shape


def option_flag(key: str) -> str:
    """How a user gives model option ``key``: ``--width`` for the flagged ones, else ``-o KEY``."""
    return f"--{key}" if key in FLAGGED else f"-o {key}"


def builder_options(build: Callable) -> tuple[list[str], bool]:
    """The options ``build(in_shape, num_classes, **options)`` takes by name, and whether it takes any."""
    params = list(inspect.signature(build).parameters.values())[2:]
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return named, any(p.kind is p.VAR_KEYWORD for p in params)


def check_options(name: str, build: Callable, options: dict[str, Any]) -> None:
    """Refuse an option ``build`` has no parameter for, and a flagged option's value outside the table."""
    named, takes_any = builder_options(build)
    for key in options:
        if key not in named and not takes_any:
            raise ConfigError(f"model {name} takes no {option_flag(key)} option (it has no {key} setting; its "
                              f"options: {', '.join(named) or 'none'})")
    for key in FLAGGED:
        value = options.get(key)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            # None leaves the model's default; hidden=0 is fastcnn's "no hidden layer" (mlp refuses it itself)
            if v is None or (key == "hidden" and as_int(v) == 0 and isinstance(as_int(v), int)):
                continue
            check(key, as_int(v))


def _probe(build: Callable, in_shape: tuple[int, ...], num_classes: int, options: dict) -> RuntimeError | None:
    """The error building the model and running one ``in_shape`` input through it raises, or None when it fits.

    Both happen on the meta device: tensors have shapes but no storage, so a probe costs milliseconds even for
    a large network, touches no memory and draws no random numbers (the real build's weights are unchanged).
    """
    import torch

    try:
        with torch.device("meta"), torch.no_grad():
            build(in_shape, num_classes, **options).eval()(torch.empty(1, *in_shape))
    except NotImplementedError:
        return None  # an operation the meta device lacks says nothing about the size: leave it to the real run
    except RuntimeError as e:
        return e
    return None


def smallest_side(build: Callable, channels: int, num_classes: int, options: dict, low: int) -> int | None:
    """The smallest side ``n > low`` from which on square ``n×n`` inputs fit; None when even the largest allowed
    side does not. Doubling then bisection: a dozen meta builds."""
    top = RANGES["input_side"].upper()

    @functools.cache
    def fits(n: int) -> bool:
        return n <= top and _probe(build, (channels, n, n), num_classes, options) is None

    lo, hi = low, min(max(2 * low, 16), top)
    while not fits(hi):
        if hi >= top:
            return None
        lo, hi = hi, min(2 * hi, top)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    # a net that halves even sides by space-to-depth may take 5 px and refuse 6: give a side after which all fit
    while hi < top and not (fits(hi) and fits(hi + 1)):
        hi += 1
    return hi


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_input_size(name: str, build: Callable, in_shape: tuple[int, ...], num_classes: int, options: dict,
                     suggested_side: int | None = None) -> None:
    """Refuse an input an image model cannot take, naming the smallest size that fits and how to resize to it.

    ``suggested_side``: a larger side the model trains well at, offered instead when the minimum is below it.
    """
    error = _probe(build, in_shape, num_classes, options)
    if error is None:
        return
    if len(in_shape) != 3:
        raise ConfigError(f"model {name} cannot take inputs of shape {in_shape} ({_first_line(error)}); an image "
                          f"model takes in_shape (channels, height, width)")
    c, h, w = in_shape
    side = smallest_side(build, c, num_classes, options, min(h, w))
    if side is None:
        raise ConfigError(f"model {name} cannot be built for inputs of shape {in_shape} with these options "
                          f"({_first_line(error)})")
    s = max(side, suggested_side or side)
    # one message for every caller: command-line users resize with an option, Python users on the loader
    raise ConfigError(f"model {name} needs inputs of at least {side}×{side} px, got {h}×{w}; resize the images: "
                      f"--resize {s} (divekit train), --input 1x{c}x{s}x{s} (divekit summary), or "
                      f"TensorLoader(resize=({s}, {s})) in Python")
