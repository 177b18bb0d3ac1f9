"""One trial: an ordinary divekit run of the study's configuration with the trial's values.

Image and text data: ``divekit.train`` on the training rows less a validation share, the test set never
evaluated (``test_set=False``); the validation metric is reported to Optuna after every epoch, and a trial the
pruner stops ends there (its run directory is complete, with the epochs it trained). Tabular data: a k-fold
cross-validation whose value is the mean over the folds, reported fold by fold (the mean so far).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import optuna

from divekit import api
from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.tuning.space import Param, settings_config


class Reporter:
    """Callback reporting ``metric`` of each epoch's row to the trial, and stopping the run when it is pruned."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None

    def on_epoch_end(self, state: Any) -> None:
        row = state.history[-1]
        if self.metric not in row:
            known = ", ".join(k for k in row if k.startswith(("valid_", "train_")))
            raise ConfigError(f"--metric {self.metric}: the runs record no such metric; they record {known}")
        self.trial.report(float(row[self.metric]), state.epoch)
        if self.trial.should_prune():
            self.pruned_at = state.epoch
            state.stop = True


class FoldReporter:
    """Callback reporting the mean of ``metric`` over the folds done so far after each fold; a pruned trial stops
    the cross-validation there."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.finals: list[float] = []

    def on_train_end(self, state: Any) -> None:
        row = state.history[-1]
        if self.metric not in row:
            known = ", ".join(k for k in row if k.startswith(("valid_", "train_")))
            raise ConfigError(f"--metric {self.metric}: the folds record no such metric; they record {known}")
        self.finals.append(float(row[self.metric]))
        self.trial.report(sum(self.finals) / len(self.finals), len(self.finals))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"after fold {len(self.finals)}")


def trial_config(base: TrainConfig, params: list[Param], trial: optuna.Trial) -> TrainConfig:
    """The study's configuration with the values the trial draws."""
    return settings_config(base, {p.name: p.suggest(trial) for p in params})


def run_trial(trial: optuna.Trial, base: TrainConfig, params: list[Param], metric: str, runs_dir: Path,
              k: int | None) -> float:
    """Train the trial's run and return its validation ``metric`` (the last epoch's, or the mean over folds)."""
    cfg = trial_config(base, params, trial)
    name = f"trial-{trial.number:04d}"
    trial.set_user_attr("run", str(runs_dir / name))
    trial.set_user_attr("host", socket.gethostname())
    if k:
        run = api.kfold(cfg, k=k, runs_dir=runs_dir, name=name, callbacks=[FoldReporter(trial, metric)],
                        say=lambda _: None)
    else:
        reporter = Reporter(trial, metric)
        run = api.train(cfg, runs_dir=runs_dir, name=name, callbacks=[reporter], test_set=False)
        if reporter.pruned_at is not None:
            trial.set_user_attr("run", str(run.path))
            raise optuna.TrialPruned(f"after epoch {reporter.pruned_at}")
    trial.set_user_attr("run", str(run.path))
    value = run.final.get(metric)
    if value is None:
        raise ConfigError(f"--metric {metric}: the run's final metrics have no such value")
    return float(value)
