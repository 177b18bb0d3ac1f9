"""The run configuration: every knob of a training run, JSON-serialisable, validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from divekit.errors import ConfigError


@dataclass
class TrainConfig:
    """Everything needed to rerun a training run. Defaults are the main Fashion-MNIST recipe."""

    data: str = "fashion-mnist"
    data_dir: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. max_len/min_freq (text), target (tabular)
    model: str = "fastcnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 2
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
    valid_fraction: float = 0.0
    resize: int | None = None
    precision: str = "auto"
    channels_last: bool = True
    device: str = "auto"
    threads: int | None = None
    seed: int = 0
    eval_batch_size: int = 1000
    task: str = "classification"

    def validate(self) -> TrainConfig:
        """Check ranges and choices; raise ``ConfigError`` naming the option."""
        from divekit.train.optimizers import OPTIMIZERS
        from divekit.train.schedule import SCHEDULES

        checks = [
            (self.epochs >= 1, "--epochs must be ≥ 1"),
            (self.batch_size >= 1, "--batch-size must be ≥ 1"),
            (self.lr > 0, "--lr must be positive"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight-decay must be ≥ 0"),
            (0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
            (0 <= self.valid_fraction < 1, "--valid-fraction must be in [0, 1)"),
            (self.opt in OPTIMIZERS, f"--opt must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.precision in ("auto", "fp32", "bf16", "fp16"), "--precision must be auto, fp32, bf16 or fp16"),
            (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
             "--device must be auto, cpu or cuda"),
            (self.clip_grad is None or self.clip_grad > 0, "--clip-grad must be positive"),
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
        """Rebuild from ``to_dict`` output, refusing unknown keys and wrongly typed values."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {sorted(unknown)}")
        defaults = cls()
        for key, value in d.items():
            expected = getattr(defaults, key)
            if value is None or expected is None:
                continue
            if isinstance(expected, bool) != isinstance(value, bool) or (
                    isinstance(expected, (int, float)) and not isinstance(value, (int, float))) or (
                    isinstance(expected, str) and not isinstance(value, str)):
                raise ConfigError(f"{source}: {key} should be {type(expected).__name__}, "
                                  f"found {type(value).__name__} {value!r}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d).validate()
