"""Search spaces: the settings a study varies and the values each may take, from ``--param`` or a TOML file.

    --param lr=log:1e-3..1             a float drawn on a log scale
    --param weight_decay=float:0..1e-3 a float drawn uniformly (float:0..1e-3:1e-4 in steps)
    --param epochs=int:2..6            an integer (int:2..8:2 in steps of 2)
    --param width=0.5,0.75,1           one of the values listed (numbers, true/false, or words: opt=sgd,adam)

A TOML file says the same under ``[params]``, as the same strings or as lists of values::

    [params]
    lr = "log:1e-3..1"
    width = [0.5, 0.75, 1]

A name is a ``TrainConfig`` field (``lr``, ``epochs``, ``opt`` …) or a model option (``width``, ``dropout``);
every bound and value is checked as a config with it would be, so a space no run could take is refused before
any trial starts. Optuna is imported only when a study draws values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.options import check
from divekit.training.config import TrainConfig
from divekit.training.recipes import ENVIRONMENT

MODEL_OPTIONS = ("width", "dropout")  # model options a study may vary (they go into model_options)
FIXED = ("data", "data_options", "model_options", "task", *ENVIRONMENT)  # what a trial never varies
KINDS = ("log", "float", "int", "choice")


@dataclass(frozen=True)
class Param:
    """One dimension of a search space: ``kind`` ``log``/``float``/``int`` between ``low`` and ``high`` (in
    steps of ``step`` if given), or ``choice`` among ``choices``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        """The flag's own syntax: ``lr=log:0.001..1``, ``width=0.5,0.75,1``."""
        if self.kind == "choice":
            return f"{self.name}={','.join(_text(c) for c in self.choices)}"
        step = f":{_text(self.step)}" if self.step is not None else ""
        return f"{self.name}={self.kind}:{_text(self.low)}..{_text(self.high)}{step}"

    def extremes(self) -> tuple[Any, ...]:
        return self.choices if self.kind == "choice" else (self.low, self.high)

    def grid(self) -> list[Any]:
        """Every value, for a grid search: the choices, or the integers (or steps) from low to high."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" or self.step is not None:
            step = self.step or 1
            count = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
            return [_same_kind(self.low + i * step, self.kind) for i in range(count)]
        raise ConfigError(f"--sampler grid: --param {self.describe()} is a continuous range; give its values as a "
                          f"list (e.g. {self.name}={_text(self.low)},{_text(self.high)}) or a step")

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial draws (or was given, for an enqueued trial)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log", step=self.step)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Param:
        return cls(**{**d, "choices": tuple(d.get("choices") or ())})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _same_kind(value: float, kind: str) -> int | float:
    return int(round(value)) if kind == "int" else round(value, 12)


def _number(text: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{source}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{source}: {text!r} is not a finite number")
    return value


def _choice(text: str) -> Any:
    """A listed value as what it says: an integer, a float, true/false, or the word itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text.strip()


def parse_param(text: str, source: str = "--param") -> Param:
    """``NAME=SPEC`` (see the module docstring) as a ``Param``, checked against the config."""
    name, sep, spec = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name or not spec.strip():
        raise ConfigError(f"{source} {text!r}: expected NAME=SPEC, e.g. lr=log:1e-3..1, epochs=int:2..6 or "
                          f"width=0.5,0.75,1")
    return parse_spec(name, spec.strip(), f"{source} {text}")


def _kind_example(name: str, spec: str) -> str:
    """``spec``'s own ends with the kinds that fit them: ``int:2..6`` for whole numbers, else ``log:``/``float:``."""
    low, _, high = spec.partition("..")
    low, high = low.split(":")[-1], high.split(":")[0]
    if all(end.strip().lstrip("-").isdigit() for end in (low, high)):
        return f"{name}=int:{low}..{high}"
    return f"{name}=log:{low}..{high} or {name}=float:{low}..{high}"


def parse_spec(name: str, spec: Any, source: str) -> Param:
    """One parameter from its spec: a ``KIND:LOW..HIGH[:STEP]`` string, a comma-separated string, or a list."""
    if isinstance(spec, list):
        param = Param(name, "choice", choices=tuple(spec))
    elif not isinstance(spec, str):
        raise ConfigError(f"{source}: expected a string such as 'log:1e-3..1' or a list of values")
    elif ":" in spec and spec.split(":", 1)[0] in KINDS[:3]:
        kind, _, rest = spec.partition(":")
        bounds, _, step = rest.partition(":")
        low, dots, high = bounds.partition("..")
        if not dots:
            raise ConfigError(f"{source}: expected {kind}:LOW..HIGH, e.g. {kind}:1e-3..1")
        param = Param(name, kind, _number(low, source), _number(high, source),
                      _number(step, source) if step else None)
    elif ".." in spec:  # a range without its kind, or with the kind last: lr=1e-3..1, lr=1e-3..1:log
        raise ConfigError(f"{source}: a range starts with its kind: {' or '.join(k + ':LOW..HIGH' for k in KINDS[:3])}"
                          f", e.g. {_kind_example(name, spec)}")
    else:
        param = Param(name, "choice", choices=tuple(_choice(v) for v in spec.split(",")))
    check_param(param, source)
    return param


def check_param(param: Param, source: str) -> None:
    """Refuse names no trial can vary, empty or reversed ranges, and values a config would refuse."""
    tunable = [f.name for f in fields(TrainConfig) if f.name not in FIXED] + list(MODEL_OPTIONS)
    if param.name not in tunable:
        raise ConfigError(f"{source}: {param.name!r} cannot be searched; choose among {', '.join(tunable)}")
    if param.kind == "choice":
        if len(param.choices) < 1 or any(c == "" for c in param.choices):
            raise ConfigError(f"{source}: list at least one value, separated by commas")
        if len(set(map(repr, param.choices))) != len(param.choices):
            raise ConfigError(f"{source}: a value is listed twice")
    else:
        if not param.low < param.high:
            raise ConfigError(f"{source}: the low end must be below the high end")
        if param.kind == "log" and param.low <= 0:
            raise ConfigError(f"{source}: a log range must start above 0")
        if param.kind == "int" and not (param.low.is_integer() and param.high.is_integer()):
            raise ConfigError(f"{source}: an int range takes whole numbers")
        if param.step is not None and not 0 < param.step <= param.high - param.low:
            raise ConfigError(f"{source}: the step must be above 0 and at most the range's width")
        if param.kind == "log" and param.step is not None:
            raise ConfigError(f"{source}: a log range takes no step")
    base = TrainConfig()
    for value in param.extremes():
        value = _same_kind(value, "int") if param.kind == "int" else value
        try:
            if param.name in MODEL_OPTIONS:
                check(param.name, value, param.name)
            settings_config(base, {param.name: value})
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None


def load_space(path: str | Path) -> list[Param]:
    """The ``[params]`` table of a TOML file as parameters (errors name the file)."""
    import tomllib

    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"--space {path}: cannot read it ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--space {path}: not valid TOML ({e})") from None
    table = doc.get("params")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"--space {path}: expected a [params] table, e.g. lr = \"log:1e-3..1\"")
    return [parse_spec(name.replace("-", "_"), spec, f"--space {path}: {name}") for name, spec in table.items()]


def combine(params: list[Param]) -> list[Param]:
    """The parameters of a study, each named once."""
    seen: set[str] = set()
    for p in params:
        if p.name in seen:
            raise ConfigError(f"--param {p.name}: given twice (on the command line or in --space)")
        seen.add(p.name)
    if not params:
        raise ConfigError("nothing to search: give --param NAME=SPEC (e.g. --param lr=log:1e-3..1) or --space FILE")
    return params


def settings_config(base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """``base`` with a trial's ``values``: config fields set, model options added to the base's."""
    model = {k: v for k, v in values.items() if k in MODEL_OPTIONS}
    plain = {k: v for k, v in values.items() if k not in MODEL_OPTIONS}
    if model:
        plain["model_options"] = {**base.model_options, **model}
    return base.replace(**plain)
