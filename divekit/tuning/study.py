"""``divekit.tune``: set up or rejoin a study, run its workers, write its report.

    divekit.tune(model="lenet", params=["lr=log:1e-2..1", "epochs=int:2..6"], trials=24, workers=2)

A study lives in ``STUDIES/NAME`` (the journal, the trial runs, the report) or, with ``storage=
"postgresql://…"``, in that database, where the same command on other machines joins it. Running the same
command again resumes it: finished trials stay as they are, lost ones are run again, and the budget is
completed. The test set is never touched; ``divekit train --from-study`` retrains the best configuration and
evaluates it once.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.options import check, cores
from divekit.runs import check_run_name
from divekit.training.config import TrainConfig, ensure_config
from divekit.training.tasks import kind_of
from divekit.tuning.space import combine, load_space, parse_param, settings_config
from divekit.tuning.spec import (
    LOCAL_SPEC,
    PRUNERS,
    SAMPLERS,
    SPEC_KEY,
    StudySpec,
    check_definition,
    direction_of,
    grid_points,
    require_optuna,
)
from divekit.tuning.storage import budget_lock, open_storage, redacted

METRICS = {"tabular": "valid_log_rmse"}  # the default --metric per kind of data (else valid_acc / valid_loss)


@dataclass
class StudyResult:
    """How a study stands after a command: its trials by state, the best trial, the report."""

    name: str
    folder: Path
    metric: str
    counts: dict[str, int]
    trials: int
    best_number: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None
    lost_workers: list[int] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.counts.get("complete", 0) + self.counts.get("pruned", 0) + self.counts.get("error", 0)

    @property
    def complete(self) -> bool:
        return self.finished >= self.trials

    @property
    def spent(self) -> bool:
        """Every trial of the budget has finished or is running (in other workers or on other machines)."""
        return self.finished + self.counts.get("running", 0) + self.counts.get("waiting", 0) >= self.trials

    def lines(self) -> list[str]:
        states = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)
        out = [f"study {self.name}: {states or 'no trials'} (budget {self.trials})"]
        if self.best_number is not None:
            values = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in self.best_params.items())
            out.append(f"best: trial {self.best_number}  {self.metric} {self.best_value:.4f}  {values}")
            out.append(f"retrain it and test it once: divekit train --from-study {self.folder}")
        if self.lost_workers:
            out.append(f"{len(self.lost_workers)} worker process(es) ended early (exit {self.lost_workers}); their "
                       f"trials were failed and queued again")
        if not self.spent:
            out.append("the budget is not spent: run the same command again to go on")
        elif not self.complete:
            out.append(f"{self.trials - self.finished} trial(s) still running in other workers finish the budget")
        if self.report:
            out.append(f"report: {self.report}")
        return out


def base_config(cfg: TrainConfig | dict | None, recipe: str | None, settings: dict[str, Any]) -> TrainConfig:
    from divekit import api

    if cfg is None:
        return api.config(recipe, **settings)
    if recipe is not None:
        raise ConfigError("give either a config or a recipe, not both")
    return ensure_config(cfg).replace(**settings) if settings else ensure_config(cfg)


def make_spec(base: TrainConfig, params: Sequence[str], space: str | Path | None, study: str | None,
              studies_dir: str | Path, storage: str | None, trials: int | None, timeout: float | None, workers: int,
              sampler: str, pruner: str, metric: str | None, k: int | None) -> StudySpec:
    """Check every option and build the study's definition (nothing is written yet)."""
    for name, value in (("trials", trials), ("timeout", timeout), ("workers", workers), ("k", k)):
        if value is not None:
            check(name, value)
    for value, allowed, flag in ((sampler, SAMPLERS, "--sampler"), (pruner, PRUNERS, "--pruner")):
        if value not in allowed:
            raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
    kind = kind_of(base.data, base.data_options)
    k = k or (5 if kind == "tabular" else None)
    if k and base.valid_fraction:
        raise ConfigError("--valid-fraction does not apply with k-fold trials: each fold is the validation set")
    if not k and not base.valid_fraction:
        base = base.replace(valid_fraction=0.1)  # trials choose on held-out training rows, never on the test set
    space_params = combine([parse_param(t) for t in params] + (load_space(space) if space else []))
    for p in space_params:  # every value against this base (e.g. nesterov needs momentum)
        for value in p.extremes():
            try:
                settings_config(base, {p.name: int(value) if p.kind == "int" else value})
            except ConfigError as e:
                raise ConfigError(f"--param {p.describe()}: {e}") from None
    metric = metric or METRICS.get(kind) or ("valid_acc" if base.task == "classification" else "valid_loss")
    if not metric.startswith("valid_"):
        raise ConfigError(f"--metric {metric}: a study chooses on validation metrics (valid_acc, valid_loss …)")
    name = study or f"{base.model}-{Path(base.data).stem}"
    check_run_name(name)
    spec = StudySpec(name, str((Path(studies_dir) / name).resolve()), storage, base.to_dict(),
                     [p.to_dict() for p in space_params], metric, direction_of(metric), k, sampler, pruner,
                     trials or 20, timeout, base.seed, workers,
                     base.threads or max(1, cores() // workers), {"started": time.time()})
    if sampler == "grid":
        spec.trials = trials or math.prod(len(p.grid()) for p in space_params)
        grid_points(spec)  # refuses a grid smaller than --trials
    return spec


def open_study(spec: StudySpec, say: Callable[[str], Any]) -> Any:
    """Create the study, or rejoin it after checking it is the same search; a new grid study queues its points."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec.path, spec.storage)
    with budget_lock(spec.path, storage, spec.name):
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                    load_if_exists=True)
        recorded = study.user_attrs.get(SPEC_KEY)
        check_definition(spec, recorded)
        if recorded is None:
            study.set_user_attr(SPEC_KEY, spec.definition())
            if spec.sampler == "grid":
                for point in grid_points(spec):
                    study.enqueue_trial(point)
        else:
            done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
            say(f"rejoining study {spec.name}: {done} trials finished so far")
    return study


def run_workers(spec: StudySpec, say: Callable[[str], Any]) -> list[int]:
    """Run the workers: in this process for one, as child processes for more. Returns the exit codes of the
    children that did not end well (a killed one shows as -9)."""
    from divekit.tuning.worker import work

    if spec.workers == 1:
        work(spec, 0, say)
        return []
    path = spec.save()
    children = [subprocess.Popen([sys.executable, "-m", "divekit.tuning.worker", str(path), str(i)])
                for i in range(spec.workers)]
    try:
        codes = [child.wait() for child in children]
    except KeyboardInterrupt:
        for child in children:  # Ctrl-C in a terminal reached them already; a signal to this process alone did not
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            child.wait()
        raise
    if 130 in codes:
        raise KeyboardInterrupt
    if 2 in codes:  # the worker printed its error line
        raise ConfigError("the search stopped on the error above; the study keeps every trial so far")
    return [c for c in codes if c != 0]


def tune(cfg: TrainConfig | dict | None = None, *, recipe: str | None = None, params: Sequence[str] = (),
         space: str | Path | None = None, study: str | None = None, studies_dir: str | Path = "studies",
         storage: str | None = None, trials: int | None = None, timeout: float | None = None, workers: int = 1,
         sampler: str = "tpe", pruner: str = "median", metric: str | None = None, k: int | None = None,
         report: bool = True, say: Callable[[str], Any] = print, **settings: Any) -> StudyResult:
    """Search hyperparameters of a config or recipe (see the module docstring and docs/tuning.md).

    Args:
        params: ``NAME=SPEC`` strings (``lr=log:1e-3..1``, ``epochs=int:2..6``, ``width=0.5,0.75,1``).
        space: a TOML file with a ``[params]`` table of the same.
        study, studies_dir: the study's name (default MODEL-DATA) and where its folder goes.
        storage: a ``postgresql://`` URL to share the study between machines (default: the study folder).
        trials: the budget (default 20; a grid: all its combinations). timeout: start no trial after this many
            seconds. workers: worker processes on this machine.
        sampler: ``tpe``, ``random`` or ``grid``. pruner: ``median``, ``halving``, ``hyperband`` or ``none``.
        metric: the validation metric to optimise (default valid_acc, valid_log_rmse for tables, valid_loss).
        k: k-fold trials (the objective is the mean over folds; default 5 for tabular data).
        settings: TrainConfig fields of the base configuration.
    """
    require_optuna()
    spec = make_spec(base_config(cfg, recipe, settings), params, space, study, studies_dir, storage, trials,
                     timeout, workers, sampler, pruner, metric, k)
    handle = open_study(spec, say)
    spec.save()
    try:
        lost = run_workers(spec, say)
    except KeyboardInterrupt as e:
        e.add_note("the study is saved: run the same command again to resume it")
        raise
    return summarize(spec, handle, lost, report)


def summarize(spec: StudySpec, study: Any, lost: list[int], report: bool = True) -> StudyResult:
    """The study's standing, read back from its storage (all workers, all machines), and its report."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {"complete": 0, "pruned": 0, "error": 0, "lost": 0, "running": 0}
    for t in trials:
        key = "error" if "error" in t.user_attrs else "lost" if t.state == TrialState.FAIL else t.state.name.lower()
        counts[key] = counts.get(key, 0) + 1
    result = StudyResult(spec.name, spec.path, spec.metric, counts, spec.trials, lost_workers=lost)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = (max if spec.direction == "maximize" else min)(complete, key=lambda t: t.value)
        result.best_number, result.best_value, result.best_params = best.number, best.value, dict(best.params)
    if report:
        from divekit.tuning.report import write_study_report

        result.report = write_study_report(spec, trials)
    return result


def best_config(study: str | Path, storage: str | None = None,
                studies_dir: str | Path = "studies") -> tuple[TrainConfig, dict[str, Any]]:
    """The best trial's configuration of a study (a study folder, or a name under ``studies_dir`` or in
    ``storage``), to be trained on all training rows and tested once; and what it was chosen on."""
    require_optuna()
    import optuna

    folder = Path(study) if (Path(study) / LOCAL_SPEC).is_file() else Path(studies_dir) / str(study)
    local = StudySpec.load(folder / LOCAL_SPEC) if (folder / LOCAL_SPEC).is_file() else None
    if local is None and storage is None:
        raise ConfigError(f"--from-study {study}: no study folder there (no {LOCAL_SPEC} in {folder.resolve()}); "
                          f"for a study in PostgreSQL give its name and --storage URL")
    name = local.name if local else str(study)
    url = storage or (local.storage if local else None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        handle = optuna.load_study(study_name=name, storage=open_storage(folder, url))
    except KeyError:
        where = redacted(url) if url else folder
        raise ConfigError(f"--from-study {study}: no study named {name} in {where}") from None
    recorded = handle.user_attrs.get(SPEC_KEY)
    if recorded is None:
        raise ConfigError(f"--from-study {study}: study {name} was not made by divekit tune")
    complete = [t for t in handle.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        raise ConfigError(f"--from-study {study}: no trial of study {name} has completed yet")
    best = (max if recorded["direction"] == "maximize" else min)(complete, key=lambda t: t.value)
    environment = {k: v for k, v in (local.base if local else {}).items() if k in ("data_dir", "device")}
    base = TrainConfig.from_dict({**recorded["base"], **environment}, f"study {name}")
    cfg = settings_config(base, dict(best.params)).replace(valid_fraction=0.0, test_every=0)
    return cfg, {"study": name, "trial": best.number, "metric": recorded["metric"], "value": best.value,
                 "params": dict(best.params)}
