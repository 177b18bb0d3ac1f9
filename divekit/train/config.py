"""The run configuration: every knob of a training run, JSON-serialisable, validated."""

from __future__ import annotations

import math
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any

from divekit.errors import ConfigError

MAX_RATE = 1e38  # largest accepted --lr and --weight-decay: float32 holds up to 3.4e38
_SCALARS = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}


def _misfit(f: Field, value: Any) -> str | None:
    """What field ``f`` expects if ``value`` does not fit it, else None (annotations are text: 'int | None')."""
    kind, _, optional = str(f.type).partition(" | ")
    if value is None:
        return None if optional == "None" else f"{kind}, not null"
    if kind.startswith("dict"):
        return None if isinstance(value, dict) else "an object"
    if kind.startswith("tuple"):
        pair = isinstance(value, (list, tuple)) and len(value) == 2
        return None if pair and all(_misfit_number(v) is None for v in value) else "a list of two numbers"
    if isinstance(value, bool) != (kind == "bool") or not isinstance(value, _SCALARS[kind]):
        return kind
    return None


def _misfit_number(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "float"


@dataclass
class TrainConfig:
    """Everything needed to rerun a training run. Defaults are the main Fashion-MNIST recipe's, except that
    ``divekit train`` (recipe ``fast``, divekit/train/recipes.py) trains with ``opt="muon"``."""

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
    step_size: int = 0
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
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    eval_batch_size: int = 1000
    test_every: int = 1  # evaluate the test set every N epochs (0: only after the last)
    task: str = "classification"

    def validate(self) -> TrainConfig:
        """Check ranges and choices; raise ``ConfigError`` naming the option."""
        from divekit.train.optimizers import OPTIMIZERS
        from divekit.train.schedule import SCHEDULES

        finite = math.isfinite
        checks = [
            (1 <= self.epochs <= 1_000_000, "--epochs must be between 1 and 1,000,000"),
            (self.batch_size >= 1, "--batch-size must be ≥ 1"),
            (self.eval_batch_size >= 1, "eval_batch_size must be ≥ 1"),
            # torch refuses a step size that float32 cannot hold (it raises instead of diverging)
            (finite(self.lr) and 0 < self.lr <= MAX_RATE, f"--lr must be a positive number ≤ {MAX_RATE:g}"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (finite(self.weight_decay) and 0 <= self.weight_decay <= MAX_RATE,
             f"--weight-decay must be between 0 and {MAX_RATE:g}"),
            (all(0 <= b < 1 for b in self.betas), "betas must be in [0, 1)"),
            (finite(self.eps) and self.eps > 0, "eps must be a positive number"),
            (finite(self.warmup) and self.warmup >= 0, "--warmup must be ≥ 0"),
            (self.step_size >= 0 and finite(self.gamma) and self.gamma > 0,
             "--step-size must be ≥ 0 and --gamma positive"),
            (self.schedule != "step" or self.step_size >= 1,
             "--schedule step needs --step-size N ≥ 1: the optimizer steps between two decays by --gamma"),
            (self.test_every >= 0, "--test-every must be ≥ 0 (0: only after the last epoch)"),
            (0 <= self.augment_crop <= 64, "--augment-crop must be between 0 and 64 pixels"),
            (0 <= self.tta_shift <= 8, "--tta-shift must be between 0 and 8 pixels"),
            (self.resize is None or 1 <= self.resize <= 1024, "--resize must be between 1 and 1024 pixels"),
            (self.threads is None or self.threads >= 1, "--threads must be ≥ 1"),
            (0 <= self.seed < 2**32, "--seed must be in [0, 2^32)"),
            (0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
            (0 <= self.valid_fraction < 1, "--valid-fraction must be in [0, 1)"),
            (self.opt in OPTIMIZERS, f"--opt must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.precision in ("auto", "fp32", "bf16", "fp16"), "--precision must be auto, fp32, bf16 or fp16"),
            (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
             "--device must be auto, cpu or cuda"),
            (self.clip_grad is None or (finite(self.clip_grad) and self.clip_grad > 0),
             "--clip-grad must be a positive number"),
            (self.task in ("classification", "regression"), "task must be classification or regression"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> TrainConfig:
        """Rebuild from ``to_dict`` output, refusing unknown keys, wrongly typed and out-of-range values with
        one ``ConfigError`` line that names ``source``."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected an object of settings, found {type(d).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {sorted(unknown)[:10]}")
        for key, value in d.items():
            expected = _misfit(known[key], value)
            if expected is not None:
                raise ConfigError(f"{source}: {key} should be {expected}, "
                                  f"found {type(value).__name__} {repr(value)[:60]}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        try:
            return cls(**d).validate()
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
