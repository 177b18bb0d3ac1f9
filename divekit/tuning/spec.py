"""What a study is: its search, as recorded in the study itself, and the Optuna objects built from it.

A study records its base configuration, search space, metric, sampler and pruner in its own storage (a study
user attribute), so that every worker, every machine and every later command (a resumed search,
``divekit train --from-study``) works from the same definition, and a command that differs is refused
instead of mixing two searches in one study. Settings of the machine (``device``, ``threads``, ``data_dir``)
are not part of it: each machine keeps its own.
"""

from __future__ import annotations

import json
import random
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.training.recipes import ENVIRONMENT
from divekit.tuning.space import Param

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "hyperband", "none")
SPEC_KEY = "divekit"  # the study user attribute holding the search's definition
LOCAL_SPEC = "spec.json"  # the study folder's copy, with this machine's settings, for the worker processes


@dataclass
class StudySpec:
    """A search: its study's name and place, the base configuration, the space, and how to search it."""

    name: str
    folder: str  # this machine's study folder: trial run directories, report, worker leases, the journal
    storage: str | None  # a postgresql:// URL, or None for the journal in the folder
    base: dict[str, Any]  # TrainConfig.to_dict() of the base configuration
    params: list[dict[str, Any]]
    metric: str
    direction: str  # maximize or minimize
    k: int | None = None  # k-fold cross-validation per trial (tabular data)
    sampler: str = "tpe"
    pruner: str = "median"
    trials: int = 20
    timeout: float | None = None
    seed: int = 0
    workers: int = 1
    threads: int | None = None  # per worker process
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.folder)

    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.base, f"study {self.name}")

    def space(self) -> list[Param]:
        return [Param.from_dict(p) for p in self.params]

    def definition(self) -> dict[str, Any]:
        """What makes two commands the same search (the machine's own settings left out)."""
        base = {k: v for k, v in self.base.items() if k not in ENVIRONMENT}
        return json.loads(json.dumps({"base": base, "params": self.params, "metric": self.metric,
                                      "direction": self.direction, "k": self.k, "sampler": self.sampler,
                                      "pruner": self.pruner}))

    def save(self) -> Path:
        from divekit.runs import write_json

        return write_json(self.path / LOCAL_SPEC, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> StudySpec:
        from divekit.runs import read_json

        return cls(**read_json(path))


def require_optuna() -> None:
    """Optuna is an extra (``divekit[tune]``): say how to get it instead of failing on an import."""
    try:
        import optuna  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError("hyperparameter search needs Optuna: pip install 'divekit[tune]'") from None


def direction_of(metric: str) -> str:
    """Accuracies are maximised, losses and errors minimised."""
    return "maximize" if metric.endswith("acc") else "minimize"


def check_definition(spec: StudySpec, recorded: dict[str, Any] | None) -> None:
    """Refuse to join a study that records another search, naming what differs."""
    if recorded is None:
        return
    differ = _differences(spec.definition(), recorded)
    if differ:
        where = spec.storage and "its database" or spec.folder
        raise ConfigError(f"study {spec.name} ({where}) was created for another search: this command differs in "
                          f"{'; '.join(differ)}; give another --study name, or the study's own settings")


def _differences(mine: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """What differs, as ``setting: value here, value in the study``; the training settings one by one."""
    def pair(name: str, here: Any, there: Any) -> str:
        return f"{name}: {json.dumps(here)} here, {json.dumps(there)} in the study"

    out = []
    for key, here in mine.items():
        there = recorded.get(key)
        if here == there:
            continue
        if key == "base" and isinstance(here, dict) and isinstance(there, dict):
            out += [pair(f, here.get(f), there.get(f)) for f in sorted(here.keys() | there.keys())
                    if here.get(f) != there.get(f)]
        else:
            out.append("the searched settings (--param, --space)" if key == "params" else pair(key, here, there))
    return out


def worker_seed(spec: StudySpec, index: int) -> int:
    """Each worker process its own sampler seed: the same seed in two workers would draw the same values."""
    return random.Random(f"{spec.seed}-{socket.gethostname()}-{index}-{spec.extra.get('started', 0)}").randrange(2**31)


def make_sampler(spec: StudySpec, index: int) -> Any:
    """TPE (default; ``constant_liar`` keeps parallel workers from drawing the same values), random, or the grid's
    own sampler: a grid study runs trials queued with fixed values, so its sampler never draws."""
    import optuna

    seed = worker_seed(spec, index)
    if spec.sampler == "tpe":
        startup = max(4, min(10, spec.trials // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)


def most_steps(spec: StudySpec) -> int:
    """The most reports a trial can make: its folds, or the most epochs the base or the space allows."""
    if spec.k:
        return spec.k
    epochs = [spec.base["epochs"]]
    for p in spec.space():
        if p.name == "epochs":
            epochs.append(int(max(p.choices) if p.kind == "choice" else p.high))
    return max(epochs)


def make_pruner(spec: StudySpec) -> Any:
    """median: stop a trial worse than the median of earlier trials at the same epoch (after 4 finished trials
    and from the first epoch); halving / hyperband: successive halving of the epochs, from 1 to the most."""
    import optuna

    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
    if spec.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=most_steps(spec), reduction_factor=3)
    return optuna.pruners.NopPruner()


def grid_points(spec: StudySpec) -> list[dict[str, Any]]:
    """Every combination of the grid's values; with fewer ``trials``, a seeded sample of them."""
    import itertools

    params = spec.space()
    points = [dict(zip([p.name for p in params], values, strict=True))
              for values in itertools.product(*(p.grid() for p in params))]
    if spec.trials > len(points):
        raise ConfigError(f"--trials {spec.trials}: the grid has only {len(points)} combinations")
    return random.Random(spec.seed).sample(points, spec.trials) if spec.trials < len(points) else points
