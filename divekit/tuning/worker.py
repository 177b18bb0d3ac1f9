"""A worker: runs trials of a study until its budget is spent, one progress line per finished trial.

    under the budget lock: fail the trials of dead workers (queueing their retries), count, start a trial
    run it (divekit.tuning.objective), tell the study how it ended, print one line

``--trials N`` counts the trials that finished (complete, pruned, or failed by an error of their own) and the
ones running or queued; a trial lost to a killed worker or to Ctrl-C is failed and queued once more with the
same values, so it counts once. Each worker process runs this loop; ``python -m divekit.tuning.worker SPEC
INDEX`` is how ``divekit tune --workers K`` starts one.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from divekit.errors import ConfigError, DivekitError
from divekit.tuning.objective import run_trial
from divekit.tuning.spec import StudySpec, make_pruner, make_sampler
from divekit.tuning.storage import Heartbeat, Lease, budget_lock, open_storage, reap, worker_id

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
WAIT = "wait"
POLL = 2.0  # seconds between looks at a study whose last trials run elsewhere


def counted(trials: list[Any]) -> int:
    """Trials that use the budget: finished, running or queued, and failed by an error of their own (a trial
    lost to a dead worker or Ctrl-C is not counted: its retry is)."""
    return sum(1 for t in trials if t.state in COUNTED or (t.state == TrialState.FAIL and "error" in t.user_attrs))


def load(spec: StudySpec, index: int = 0) -> tuple[optuna.Study, Any]:
    """The study with this worker's sampler and the study's pruner, and its storage."""
    storage = open_storage(spec.path, spec.storage)
    study = optuna.load_study(study_name=spec.name, storage=storage, sampler=make_sampler(spec, index),
                              pruner=make_pruner(spec))
    return study, storage


def elapsed(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m{s:02d}s" if minutes >= 60 else f"{minutes}m{s:02d}s"


def progress_line(study: optuna.Study, trial: optuna.trial.FrozenTrial, spec: StudySpec, started: float) -> str:
    """``trial 7 complete  valid_acc 0.9012  best 0.9050 (trial 3)  8/24  elapsed 2m14s``."""
    trials = study.get_trials(deepcopy=False)
    done = sum(1 for t in trials if t.state.is_finished() and t.state != TrialState.FAIL or "error" in t.user_attrs)
    state = trial.state.name.lower()
    if trial.state == TrialState.PRUNED:
        state = f"pruned at {'fold' if spec.k else 'epoch'} {trial.last_step}"
    value = f"  {spec.metric} {trial.value:.4f}" if trial.value is not None else ""
    if trial.state == TrialState.FAIL:
        state, value = "failed", f"  {(trial.user_attrs.get('error') or 'interrupted')[:100]}"
    best = [t for t in trials if t.state == TrialState.COMPLETE]
    best_text = ""
    if best:
        top = (max if spec.direction == "maximize" else min)(best, key=lambda t: t.value)
        best_text = f"  best {top.value:.4f} (trial {top.number})"
    retry = f" (retry of {trial.user_attrs['retry_of']})" if "retry_of" in trial.user_attrs else ""
    return (f"trial {trial.number}{retry} {state}{value}{best_text}  {done}/{spec.trials}  "
            f"elapsed {elapsed(time.time() - started)}")


def next_trial(study: optuna.Study, spec: StudySpec, storage: Any, worker: str,
               say: Callable[[str], Any]) -> optuna.Trial | str | None:
    """Under the budget lock: reap lost trials, then start the next trial (a queued one first). ``WAIT`` when
    the budget is given out but trials still run elsewhere (their worker may be dead and not yet noticed, and
    then its trial is run again here); None when every trial of the budget has finished."""
    with budget_lock(spec.path, storage, spec.name):
        for number in reap(study, spec.path, storage):
            say(f"trial {number} lost: its worker is gone; marked failed, its values queued once more")
        trials = study.get_trials(deepcopy=False)
        if not any(t.state == TrialState.WAITING for t in trials) and counted(trials) >= spec.trials:
            return WAIT if any(t.state == TrialState.RUNNING for t in trials) else None
        trial = study.ask()
        trial.set_user_attr("worker", worker)  # before the lock is released: a trial never runs unowned
        if getattr(storage, "engine", None) is not None:
            storage.record_heartbeat(trial._trial_id)  # from now on a silent trial is a lost one
        return trial


def work(spec: StudySpec, index: int = 0, say: Callable[[str], Any] = print) -> int:
    """Run trials until every trial of the budget has finished (waiting for the last ones running elsewhere) or
    ``spec.timeout`` has passed; returns how many ran here."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # this loop beats the heartbeats itself (storage.Heartbeat), which Optuna only expects of Study.optimize
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    study, storage = load(spec, index)
    base, params, runs = spec.config(), spec.space(), spec.path / "runs"
    if spec.threads:
        base = base.replace(threads=spec.threads)
    started = spec.extra.get("started", time.time())
    me = worker_id()
    lease = Lease(spec.path, me) if spec.storage is None else None
    ran = 0
    try:
        while spec.timeout is None or time.time() - started < spec.timeout:
            trial = next_trial(study, spec, storage, me, say)
            if trial is None:
                break
            if trial == WAIT:
                time.sleep(POLL)
                continue
            with Heartbeat(storage, trial._trial_id):
                finish(study, trial, base, params, spec, runs)
            ran += 1
            say(progress_line(study, study.trials[trial.number], spec, started))
            refuse_hopeless(study)
    finally:
        if lease is not None:
            lease.end()
    return ran


HOPELESS = 3  # trials failing by their own error, with none finished, that end the search


def refuse_hopeless(study: optuna.Study) -> None:
    """End a search whose every trial so far failed by its own error (a setting the model refuses, a space of
    rates that all diverge): more trials would only fail the same way."""
    trials = study.get_trials(deepcopy=False)
    errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
    if len(errors) >= HOPELESS and not any(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials):
        raise ConfigError(f"the first {len(errors)} trials all failed, the last with {errors[-1]}; fix the base "
                           f"configuration or the space (each trial's run directory says more)")


def finish(study: optuna.Study, trial: optuna.Trial, base: Any, params: list, spec: StudySpec, runs: Path) -> None:
    """Run one trial and tell the study how it ended; Ctrl-C fails it, queues its retry and goes on up."""
    from divekit.tuning.storage import retry

    try:
        value = run_trial(trial, base, params, spec.metric, runs, spec.k)
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
    except KeyboardInterrupt:
        study.tell(trial, state=TrialState.FAIL)
        retry(study, study.trials[trial.number])
        raise
    except (DivekitError, ValueError, RuntimeError) as e:  # this configuration fails; the search goes on
        trial.set_user_attr("error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, value)


def main(argv: list[str]) -> int:
    """``python -m divekit.tuning.worker SPEC_JSON INDEX``: one worker process of ``divekit tune``."""
    spec = StudySpec.load(argv[0])
    try:
        work(spec, int(argv[1]), say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        return 130
    except DivekitError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
