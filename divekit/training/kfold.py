"""k-fold cross-validation of any training config, for every kind of data (the test set is never touched).

The training examples are cut into k folds (stratified by class for classification); each round the task
prepares a fresh model on k-1 folds and validates it on the remaining one. The run directory gets
``config.json``, ``fold-I/metrics.csv`` per fold, ``curves.png`` (train vs validation, each fold and the
mean) and ``summary.json`` (per-fold final metrics, mean ± std over the folds, and a sentence on
overfitting). ``summary.json`` is rewritten after every fold, so an interrupted k-fold says how far it got.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from divekit.data.kfold import KFold, StratifiedKFold
from divekit.errors import ConfigError, DataError
from divekit.report.overfitting import mean_history, overfitting_sentence, pick_metric, plot_train_valid
from divekit.runs import default_run_name, new_run_dir, write_json
from divekit.training import finetune
from divekit.training.callbacks import EarlyStopping, final_row
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device, set_threads
from divekit.training.fit import fit, new_state, warmup_steps
from divekit.training.progress import Progress
from divekit.training.run import seed_everything, write_run_report
from divekit.training.rundir import write_config, write_metrics
from divekit.training.tasks import kind_of, load_examples, task_for

MONITORS = {"tabular": "valid_log_rmse"}  # the default --monitor per kind of data (else valid_loss)


def _fmt(row: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k.startswith(("train_", "valid_")))


def mean_std(rows: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation (ddof 1) over folds of every train_/valid_ metric."""
    keys = [k for k in rows[0] if k.startswith(("train_", "valid_"))]
    return ({k: statistics.fmean(r[k] for r in rows) for k in keys},
            {k: statistics.stdev(r[k] for r in rows) for k in keys})


def check_kfold(config: TrainConfig, k: int, n: int, patience: int | None, monitor: str) -> None:
    """Refuse what k-fold cannot do, before anything is written."""
    if config.valid_fraction:
        raise ConfigError("--valid-fraction does not apply to kfold: each fold is the validation set of one round")
    if not 2 <= k <= n:
        raise ConfigError(f"--k {k}: expected between 2 and the {n} training examples")
    if patience is not None:
        EarlyStopping(monitor, patience)  # refuses a bad --patience
    if not monitor.startswith(("train_", "valid_")):
        raise ConfigError(f"--monitor {monitor}: expected a train_ or valid_ metric, e.g. valid_loss")


def run_kfold(config: TrainConfig, k: int = 5, stratify: bool | None = None, patience: int | None = None,
              monitor: str | None = None, runs_dir: str | Path = "runs", name: str | None = None,
              verbose: bool = False, say: Callable[[str], Any] = print,
              callbacks: list[Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Cross-validate ``config`` over ``k`` folds of its training examples; returns ``(run_dir, summary)``.

    Args:
        stratify: keep each class's share in every fold (default: for classification).
        patience, monitor: early stopping per fold on ``monitor`` (default: valid_log_rmse for tabular data,
            valid_loss otherwise), restoring each fold's best weights.
        verbose: print every epoch of every fold; ``say`` prints the per-fold lines.
        callbacks: added to every fold's callbacks (``on_train_end`` sees each fold's final state).
    """
    t0 = time.perf_counter()
    kind = kind_of(config.data, config.data_options)
    task = task_for(kind)
    config = task.check(config)
    monitor = monitor or MONITORS.get(kind, "valid_loss")
    threads = set_threads(config.threads)
    device = resolve_device(config.device)
    examples = load_examples(task, config)
    check_kfold(config, k, examples.n, patience, monitor)
    stratify = config.task == "classification" if stratify is None else stratify
    if stratify and examples.labels is None:
        raise ConfigError(f"--stratify needs class labels; {examples.name} is a regression dataset")
    splits = list(StratifiedKFold(k, config.seed).split(examples.labels) if stratify
                  else KFold(k, seed=config.seed).split(examples.n))
    head = {"k": k, "stratified": stratify}
    folds, histories = [], []
    for i, (train_idx, valid_idx) in enumerate(splits, start=1):
        fold_callbacks: list[Any] = [EarlyStopping(monitor, patience)] if patience else []
        if verbose:
            fold_callbacks.append(Progress())
        seed_everything(config.seed)
        prepared = task.prepare(config, examples, train_idx, valid_idx, device)
        if len(prepared.loaders.train) == 0:
            raise DataError(f"fold {i}: its {len(train_idx)} training examples make no batch of --batch-size")
        if i == 1:  # the first model is built: every setting has been checked, so the run can be written
            warmup_steps(config, len(prepared.loaders.train) * config.epochs)
            run_dir = new_run_dir(runs_dir, name or default_run_name(f"kfold{k}-{config.model}-{examples.name}"))
            write_config(run_dir, config, {"kind": "kfold", "k": k, "stratified": stratify, "dataset": examples.name,
                                           "data_kind": kind, "examples": examples.n,
                                           "valid_sizes": [len(v) for _, v in splits], "patience": patience,
                                           "monitor": monitor, "threads": threads})
            say(f"{k}-fold cross-validation of {config.model} on {examples.name}: {examples.n} training examples, "
                f"{'stratified ' if stratify else ''}folds of {len(splits[0][1])}; the test set is not used")
        tuning = finetune.start(config, prepared)  # --init: every fold starts from the same weights
        start = new_state(prepared.model, config, len(prepared.loaders.train), device)
        if tuning is not None:
            tuning.prepare_optimizer(start.optimizer)
        state = fit(prepared.model, prepared.loaders.train, config, prepared.loaders.valid, None,
                    [*prepared.callbacks, *fold_callbacks, *(callbacks or [])], loss_fn=prepared.loss_fn, state=start)
        write_metrics(run_dir / f"fold-{i}", state.history)
        final = final_row(state)
        folds.append({"fold": i, "train_examples": len(train_idx), "valid_examples": len(valid_idx),
                      "epochs_run": len(state.history), "final": final, "early_stopping": state.early_stopping,
                      "overfitting": overfitting_sentence(state.history)})
        histories.append(state.history)
        write_json(run_dir / "summary.json", {**head, "complete": False, "folds": folds}, owner=True)
        say(f"fold {i}: {_fmt(final)}")
    mean, std = mean_std([f["final"] for f in folds])
    metric = pick_metric(histories[0]) or "loss"
    plot_train_valid(run_dir / "curves.png", histories, metric, f"{k}-fold {config.model} on {examples.name}",
                     log_scale=metric == "log_rmse" or (metric == "loss" and config.task == "regression"))
    summary = {**head, "complete": True, "metric": metric, "mean": mean, "std": std,
               "overfitting": overfitting_sentence(mean_history(histories)), "folds": folds,
               "seconds": round(time.perf_counter() - t0, 3)}
    write_json(run_dir / "summary.json", summary, owner=True)
    say(f"mean ± std over {k} folds: " + "  ".join(f"{key} {mean[key]:.4g} ± {std[key]:.2g}" for key in mean))
    say(summary["overfitting"])
    write_run_report(run_dir)
    return run_dir, summary
