"""The run configuration: every knob of a training run, JSON-serialisable, validated when it is made.

A ``TrainConfig`` is frozen and checks itself on construction (``__post_init__``): whatever holds one holds a
valid configuration, so nothing downstream validates it again. Numeric ranges come from the one table of
option ranges (``divekit.options.RANGES``) that the command line uses too, so both say the same thing.

The field defaults are neutral starting values for Python callers (plain SGD, constant rate … are not assumed:
see each field). ``divekit train`` never relies on them: it starts from a complete recipe
(``divekit.training.recipes``) and applies the flags given.
"""

from __future__ import annotations

from dataclasses import Field, asdict, dataclass, field, fields, replace
from typing import Any

from divekit.errors import ConfigError
from divekit.options import check

_SCALARS = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}
OPTIMIZERS = ("sgd", "muon", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TASKS = ("classification", "regression")


def _misfit(f: Field, value: Any) -> str | None:
    """What field ``f`` expects if ``value`` does not fit it, else None (annotations are text: 'int | None')."""
    kind, _, optional = str(f.type).partition(" | ")
    if value is None:
        return None if optional == "None" else f"{kind}, not null"
    if kind.startswith("dict"):
        return None if isinstance(value, dict) else "an object"
    if kind.startswith("tuple"):
        pair = isinstance(value, (list, tuple)) and len(value) == 2
        return None if pair and all(_is_number(v) for v in value) else "a list of two numbers"
    if isinstance(value, bool) != (kind == "bool") or not isinstance(value, _SCALARS[kind]):
        return kind
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to rerun a training run (see the module docstring for the defaults)."""

    data: str = "fashion-mnist"
    data_dir: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. max_len/min_freq (text), target (tabular)
    model: str = "fastcnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 3
    batch_size: int = 256
    opt: str = "sgd"
    lr: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: str = "onecycle"
    warmup: float = 0.25  # share of all steps spent warming up (onecycle) or absolute steps when ≥ 1
    step_size: int = 0  # optimizer steps between decays of --schedule step (0: not set)
    gamma: float = 0.1
    label_smoothing: float = 0.1
    clip_grad: float | None = None
    augment_crop: int = 0
    augment_flip: bool = False  # mirror images: right for clothes, wrong for digits
    tta_flip: bool = False
    tta_shift: int = 0  # test-time views moved by this many pixels (0: none)
    valid_fraction: float = 0.0
    resize: int | None = None
    precision: str = "auto"
    channels_last: bool = True
    fast_paths: bool = True  # divekit.speed: the same maths, computed faster (off: the plain PyTorch path)
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    eval_batch_size: int = 1000
    test_every: int = 1  # evaluate the test set every N epochs (0: only after the last)
    task: str = "classification"
    init: str | None = None  # start from these weights: a run directory, a .safetensors or a .pth state dict
    freeze_epochs: int = 0  # with init: epochs that train only the output layer before the whole net trains
    finetune_lr_ratio: float = 0.1  # with init: the first layer's rate over the output layer's (geometric between)
    recipe: str | None = None  # the recipe this config started from (divekit.training.recipes), if any

    def __post_init__(self) -> None:
        for f in fields(self):
            expected = _misfit(f, getattr(self, f.name))
            if expected is not None:
                value = getattr(self, f.name)
                raise ConfigError(f"{f.name} should be {expected}, found {type(value).__name__} {repr(value)[:60]}")
        if isinstance(self.betas, list):
            object.__setattr__(self, "betas", tuple(self.betas))
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Every numeric field against the shared table; then the rules that tie two fields together."""
        for name in ("epochs", "batch_size", "eval_batch_size", "lr", "momentum", "weight_decay", "eps", "warmup",
                     "gamma", "label_smoothing", "augment_crop", "tta_shift", "seed", "test_every",
                     "valid_fraction", "freeze_epochs", "finetune_lr_ratio"):
            check(name, getattr(self, name))
        for name in ("clip_grad", "resize", "threads"):
            if getattr(self, name) is not None:
                check(name, getattr(self, name))
        if self.step_size:
            check("step_size", self.step_size)
        for beta in self.betas:
            check("momentum", beta, "betas")
        choices = [(self.opt, OPTIMIZERS, "--opt"), (self.schedule, SCHEDULES, "--schedule"),
                   (self.precision, PRECISIONS, "--precision"), (self.task, TASKS, "task")]
        for value, allowed, flag in choices:
            if value not in allowed:
                raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.schedule == "step" and self.step_size < 1:
            raise ConfigError("--schedule step needs --step-size N ≥ 1: the optimizer steps between two decays by "
                              "--gamma")
        if self.nesterov and self.momentum <= 0 and self.opt in ("sgd", "muon"):
            raise ConfigError("--nesterov needs --momentum > 0")
        if self.freeze_epochs and not self.init:
            raise ConfigError("--freeze-epochs trains a pretrained net's new output layer first: it needs --init")
        if self.freeze_epochs > self.epochs:
            raise ConfigError(f"--freeze-epochs {self.freeze_epochs} is more than --epochs {self.epochs}")
        width = self.model_options.get("width")
        if width is not None:
            check("width", width)

    def validate(self) -> TrainConfig:
        """The config itself: it was checked when it was made (kept for callers that chain it)."""
        return self

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``, checked like any new config."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, source: str = "config") -> TrainConfig:
        """Rebuild from ``to_dict`` output (a saved config.json, an API caller's dict), refusing unknown keys,
        wrongly typed and out-of-range values with one ``ConfigError`` line that names ``source``."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected an object of settings, found {type(d).__name__}")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"{source}: unknown keys {sorted(map(str, unknown))[:10]}")
        try:
            return cls(**d)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None


def ensure_config(config: Any, source: str = "config") -> TrainConfig:
    """``config`` as a ``TrainConfig``: one already, a dict of settings, or None for the defaults."""
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config, source)
    raise ConfigError(f"{source}: expected a TrainConfig or a dict of settings, got {type(config).__name__}")

