"""One training run, for every kind of data: config → task → data → model → fit → run directory.

    check the config for its kind of data (divekit.training.tasks)   nothing read or written yet
    seed, threads, device; read the data; split off validation rows (seeded, stratified for classes)
    the task prepares loaders and the model; the run directory gets config.json and the task's files
    fit (divekit.training.fit), with metrics.csv and a checkpoint after every epoch and the mistake checks
    model.safetensors, curves.png, summary.json, report.html

``--resume`` runs the same steps on an unfinished run's own config.json and continues from its checkpoint;
the result is bit for bit that of an uninterrupted run.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit import speed
from divekit.data.split import train_valid_split
from divekit.diagnose.checks import MistakeChecks
from divekit.report.overfitting import overfitting_sentence
from divekit.runs import default_run_name, new_run_dir, write_json
from divekit.training import distributed, finetune
from divekit.training.callbacks import final_row
from divekit.training.checkpoint import Checkpointer, check_free_space, config_for_resume, restore
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device, set_threads
from divekit.training.fit import check_trainable, fit, new_state, warmup_steps
from divekit.training.rundir import plot_curves, save_weights, write_config, write_metrics
from divekit.training.state import Loaders, State
from divekit.training.tasks import Examples, Prepared, kind_of, load_examples, task_for


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class RunWriter:
    """Callback keeping ``metrics.csv`` current after every epoch (atomically rewritten)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_epoch_end(self, state: State) -> None:
        write_metrics(self.run_dir, state.history)


def split(config: TrainConfig, examples: Examples) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(train rows, validation rows)``: all rows and none without ``valid_fraction``; otherwise a seeded split,
    stratified by class when the examples have class labels."""
    if not config.valid_fraction:
        return None, None
    stratify = examples.labels is not None
    labels = examples.labels if stratify else torch.zeros(examples.n)
    return train_valid_split(labels, config.valid_fraction, config.seed, stratify=stratify)


def train_run(config: TrainConfig | None, runs_dir: str | Path = "runs", name: str | None = None,
              callbacks: list[Any] | None = None, resume: str | Path | None = None,
              checkpoint_every: int | None = None, on_nan: str | None = None,
              test_set: bool = True) -> tuple[Path, State]:
    """Run ``config`` end to end and write the run directory. Returns ``(run_dir, final state)``.

    Args:
        resume: an unfinished run directory to continue from its last checkpoint, with its own ``config.json``
            (``config`` may then be None); the result is bit for bit that of an uninterrupted run.
        checkpoint_every: also checkpoint every N steps (default 0: at epoch ends only; a resumed run keeps its
            own setting).
        on_nan: ``stop`` (default) or ``skip`` a step whose loss or gradient is not finite.
        test_set: False never evaluates the test set (a hyperparameter search chooses on validation rows only).
    """
    if resume is not None:
        config, saved = config_for_resume(Path(resume), config)
        checkpoint_every = saved.get("checkpoint_every", 0) if checkpoint_every is None else checkpoint_every
        on_nan = on_nan or saved.get("on_nan", "stop")
    checkpoint_every, on_nan = checkpoint_every or 0, on_nan or "stop"
    task = task_for(kind_of(config.data, config.data_options))
    config = task.check(config)
    t0 = time.perf_counter()
    threads = set_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    examples = load_examples(task, config)
    prepared = task.prepare(config, examples, *split(config, examples), device)
    tuning = finetune.start(config, prepared)  # --init: pretrained weights in, rates by layer
    state = new_state(prepared.model, config, len(prepared.loaders.train), device)
    if tuning is not None:
        tuning.prepare_optimizer(state.optimizer)
    check_trainable(prepared.model, state.steps_per_epoch)  # refused before the run directory exists
    warmup_steps(config, state.total_steps)
    main = distributed.is_main()  # in a data-parallel run only rank 0 writes files
    if resume is None and main:
        run_dir = new_run_dir(runs_dir, name or default_run_name(f"{config.model}-{examples.name}"))
        meta = {**prepared.meta, "parameters": sum(p.numel() for p in prepared.model.parameters()),
                "device": str(device), "threads": threads, "checkpoint_every": checkpoint_every, "on_nan": on_nan,
                "processes": distributed.world_size(),
                "fast_paths": speed.applied(config.model, config.opt, config.fast_paths, device.type),
                **({} if test_set else {"test_set": "not used"})}
        for file, write in prepared.artifacts.items():
            write(run_dir / file)
        write_config(run_dir, config, meta)
    elif resume is not None:
        run_dir = Path(resume)
        restore(run_dir, state)  # no checkpoint yet: start again from step 0, in the same directory
    run_dir = distributed.broadcast(run_dir if main else None)
    state.run_dir = run_dir
    if main:
        check_free_space(run_dir, state)
    writers = [RunWriter(run_dir), Checkpointer(run_dir, checkpoint_every), MistakeChecks()] if main else []
    loaders = prepared.loaders if test_set else Loaders(prepared.loaders.train, prepared.loaders.valid, None)
    try:
        state = fit(prepared.model, loaders.train, config, loaders.valid, loaders.test,
                    [*prepared.callbacks, *writers, *(callbacks or [])], loss_fn=prepared.loss_fn, state=state,
                    on_nan=on_nan)
    except KeyboardInterrupt as e:
        if main:  # the last checkpoint is complete (written atomically): say how to go on from it
            e.add_note(f"continue the run with: divekit train --resume {run_dir}")
        raise
    if main:  # the other ranks hold the same weights and metrics; rank 0 writes them
        finish(run_dir, state, prepared, time.perf_counter() - t0)
    return run_dir, state


def finish(run_dir: Path, state: State, prepared: Prepared, total_seconds: float) -> None:
    """Write the finished run's weights, curves, summary and report."""
    save_weights(state.model, run_dir / "model.safetensors")
    if prepared.curves is not None:
        curves = prepared.curves(run_dir, state)
    else:  # the live plot's last redraw is this very figure when it drew the end
        drawn = state.curves_png
        curves = plot_curves(run_dir, state.history, drawn[1] if drawn and drawn[0] == len(state.history) else None)
    has_valid = any(k.startswith("valid_") for row in state.history for k in row)
    write_json(run_dir / "summary.json", {
        "final": final_row(state), "train_seconds": round(state.seconds, 3),
        "total_seconds": round(total_seconds, 3),
        "examples_per_second": round(prepared.examples * len(state.history) / max(state.seconds, 1e-9), 1),
        **({"overfitting": overfitting_sentence(state.history)} if has_valid else {}),
        **({"early_stopping": state.early_stopping} if state.early_stopping else {}),
        **({"resumed_at_steps": state.resumed_at} if state.resumed_at else {}),
        **({"skipped_steps": state.skipped} if state.skipped else {}),
        **(prepared.summary(state) if prepared.summary else {})}, owner=True)
    predictions = prepared.predictions(state) if prepared.predictions else None
    write_run_report(run_dir, predictions, curves)


def write_run_report(run_dir: Path, predictions: Any = None, curves: bytes | None = None) -> None:
    """``report.html`` for a finished run; a failure here is only a warning, never a failed run.
    ``predictions``: the test predictions if known; ``curves``: the run's ``curves.png`` if drawn."""
    try:
        from divekit.report.single import write_report

        write_report(run_dir, predictions=predictions, curves=curves)
    except Exception as e:  # the run itself succeeded; its report can be redone with divekit report
        print(f"warning: could not write {run_dir / 'report.html'} ({type(e).__name__}: {e}); "
              f"try 'divekit report {run_dir}'", file=sys.stderr)
