"""A whole training run for image classification: data → model → fit → run directory.

This is what ``divekit train`` calls; ``eval`` and ``predict`` read the run directory back.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.data.images import ImageDataset, load_dataset
from divekit.data.loader import Augment, TensorLoader
from divekit.data.split import train_valid_split
from divekit.diagnose.checks import MistakeChecks
from divekit.models.registry import build_model
from divekit.runs import default_run_name, new_run_dir, write_json
from divekit.train import distributed
from divekit.train.checkpoint import Checkpointer, check_free_space, config_for_resume, restore
from divekit.train.config import TrainConfig
from divekit.train.device import resolve_device, resolve_precision, set_threads
from divekit.train.fit import State, fit, new_state
from divekit.train.rundir import load_weights, plot_curves, read_config, save_weights, write_config, write_metrics


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Data:
    train: TensorLoader
    valid: TensorLoader | None
    test: TensorLoader
    train_set: ImageDataset
    test_set: ImageDataset


def image_shape(config: TrainConfig, dataset: ImageDataset) -> tuple[int, int, int]:
    c, h, w = dataset.shape
    return (c, config.resize, config.resize) if config.resize else (c, h, w)


def eval_loader(ds: ImageDataset, config: TrainConfig, device: torch.device, channels_last: bool) -> TensorLoader:
    """Batches of ``ds`` in its stored order (never shuffled), as evaluation and prediction need."""
    resize = (config.resize, config.resize) if config.resize else None
    return TensorLoader(ds.images, ds.labels, config.eval_batch_size, shuffle=False, mean=ds.mean, std=ds.std,
                        device=device, channels_last=channels_last, resize=resize)


def eval_shard(ds: ImageDataset) -> ImageDataset:
    """This process's consecutive part of ``ds`` in a data-parallel run (``evaluate`` adds the parts' sums
    up over the processes); all of ``ds`` in a single process."""
    world = distributed.world_size()
    if world == 1:
        return ds
    start, stop = distributed.shard_range(len(ds), distributed.rank(), world)
    return ds.subset(torch.arange(start, stop))


def build_data(config: TrainConfig, train_set: ImageDataset, test_set: ImageDataset, device: torch.device,
               channels_last: bool) -> Data:
    """Carve out a validation split if asked, and make the loaders (in a data-parallel run: this process's
    shard of every training batch, and its part of the evaluation sets)."""
    valid = None
    if config.valid_fraction:
        train_idx, valid_idx = train_valid_split(train_set.labels, config.valid_fraction, config.seed)
        valid_set = train_set.subset(valid_idx, "valid")
        train_set = train_set.subset(train_idx)
        valid = eval_loader(eval_shard(valid_set), config, device, channels_last)
    resize = (config.resize, config.resize) if config.resize else None
    train = TensorLoader(train_set.images, train_set.labels, config.batch_size, shuffle=True, seed=config.seed,
                         mean=train_set.mean, std=train_set.std, device=device, channels_last=channels_last,
                         augment=Augment(config.augment_crop, config.augment_flip), resize=resize,
                         rank=distributed.rank(), world=distributed.world_size())
    test = eval_loader(eval_shard(test_set), config, device, channels_last)
    return Data(train, valid, test, train_set, test_set)


def has_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def prepare_model(config: TrainConfig, in_shape: tuple[int, ...], num_classes: int,
                  device: torch.device) -> tuple[torch.nn.Module, bool]:
    """Build the model, move it to ``device``; channels-last for conv nets when enabled."""
    model = build_model(config.model, in_shape, num_classes, **config.model_options).to(device)
    channels_last = config.channels_last and has_conv(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, channels_last


class RunWriter:
    """Callback keeping ``metrics.csv`` current after every epoch (atomically rewritten)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_train_start(self, state: State) -> None:
        # the callbacks after this one that write into the run (live.png, tensorboard) look for it here
        state.extra["run_dir"] = str(self.run_dir)

    def on_epoch_end(self, state: State) -> None:
        write_metrics(self.run_dir, state.history)


def train_run(config: TrainConfig | None, runs_dir: str | Path = "runs", name: str | None = None,
              callbacks: list[Any] | None = None, resume: str | Path | None = None,
              checkpoint_every: int | None = None, on_nan: str | None = None) -> tuple[Path, State]:
    """Run ``config`` end to end and write the run directory. Returns ``(run_dir, final state)``.

    Args:
        resume: an unfinished run directory to continue from its last checkpoint, with its own
            ``config.json`` (``config`` may then be None); the result is bit for bit that of an
            uninterrupted run.
        checkpoint_every: also checkpoint every N steps (default 0: at epoch ends only; a resumed run
            keeps its own setting).
        on_nan: ``stop`` (default) or ``skip`` a step whose loss or gradient is not finite.
    """
    if resume is not None:
        config, saved = config_for_resume(Path(resume), config)
        checkpoint_every = saved.get("checkpoint_every", 0) if checkpoint_every is None else checkpoint_every
        on_nan = on_nan or saved.get("on_nan", "stop")
    checkpoint_every, on_nan = checkpoint_every or 0, on_nan or "stop"
    config.validate()
    t0 = time.perf_counter()
    threads = set_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    train_set = load_dataset(config.data, "train", config.data_dir)
    test_set = load_dataset(config.data, "test", config.data_dir)
    in_shape = image_shape(config, train_set)
    model, channels_last = prepare_model(config, in_shape, train_set.num_classes, device)
    data = build_data(config, train_set, test_set, device, channels_last)
    state = new_state(model, config, len(data.train), device)
    main = distributed.is_main()  # in a data-parallel run only rank 0 writes files
    if resume is None and main:
        run_dir = new_run_dir(runs_dir, name or default_run_name(f"{config.model}-{data.train_set.name}"))
        meta = {"in_shape": list(in_shape), "num_classes": train_set.num_classes,
                "classes": list(train_set.classes), "dataset": data.train_set.name,
                "data_source": data.train_set.source, "train_examples": len(data.train_set),
                "test_examples": len(data.test_set), "parameters": sum(p.numel() for p in model.parameters()),
                "device": str(device), "threads": threads, "checkpoint_every": checkpoint_every, "on_nan": on_nan,
                "processes": distributed.world_size()}
        write_config(run_dir, config, meta)
    elif resume is not None:
        run_dir = Path(resume)
        restore(run_dir, state)  # no checkpoint yet: start again from step 0, in the same directory
    run_dir = distributed.broadcast(run_dir if main else None)
    if main:
        check_free_space(run_dir, state)
    writers = [RunWriter(run_dir), Checkpointer(run_dir, checkpoint_every), MistakeChecks()] if main else []
    try:
        state = fit(model, data.train, config, data.valid, data.test, [*writers, *(callbacks or [])],
                    state=state, on_nan=on_nan)
    except KeyboardInterrupt as e:
        if main:  # the last checkpoint is complete (written atomically): say how to go on from it
            e.add_note(f"continue the run with: divekit train --resume {run_dir}")
        raise
    if not main:
        return run_dir, state  # the other ranks hold the same weights and metrics; rank 0 writes them
    save_weights(model, run_dir / "model.safetensors")
    drawn = state.extra.get("curves_png")  # (epochs, PNG) from the live plot's last redraw, if it drew the end
    curves = plot_curves(run_dir, state.history, drawn[1] if drawn and drawn[0] == len(state.history) else None)
    final = state.history[-1] if state.history else {}
    write_json(run_dir / "summary.json", {
        "final": final, "train_seconds": round(state.seconds, 3),
        "total_seconds": round(time.perf_counter() - t0, 3),
        "examples_per_second": round(len(data.train_set) * len(state.history) / max(state.seconds, 1e-9), 1),
        **({"resumed_at_steps": state.extra["resumed_at"]} if state.extra.get("resumed_at") else {}),
        **({"skipped_steps": state.skipped} if state.skipped else {})})
    write_run_report(run_dir, final_predictions(state, data, config), curves)
    return run_dir, state


def final_predictions(state: State, data: Data, config: TrainConfig):
    """The last epoch's test predictions as the report's ``Predictions`` (None if not the whole test set
    in stored order), so the report need not run the model over the test set again."""
    from divekit.diagnose.checks import ShuffledLoaderError, check_ordered_loader
    from divekit.report.rundata import Predictions

    predicted = state.extra.get("test_predictions")
    if predicted is None or config.task != "classification" or len(predicted) != len(data.test_set):
        return None
    try:
        check_ordered_loader(data.test)  # the same test predict() applies before writing rows
    except ShuffledLoaderError:
        return None
    test = data.test_set
    return Predictions(test.labels.clone(), predicted, test.images, tuple(test.classes))


def write_run_report(run_dir: Path, predictions=None, curves: bytes | None = None) -> None:
    """``report.html`` for a finished run; a failure here is only a warning, never a failed run.
    ``predictions``: the test predictions if already known (else the report reruns the saved model);
    ``curves``: the run's ``curves.png`` (else the report draws the curves itself)."""
    try:
        from divekit.report.single import write_report

        write_report(run_dir, predictions=predictions, curves=curves)
    except Exception as e:  # the run itself succeeded; its report can be redone with divekit report
        print(f"warning: could not write {run_dir / 'report.html'} ({type(e).__name__}: {e}); "
              f"try 'divekit report {run_dir}'", file=sys.stderr)


def load_run(run_dir: Path, device: str = "auto") -> tuple[torch.nn.Module, TrainConfig, dict, bool]:
    """Rebuild a finished run's model with its saved weights, in eval mode."""
    config, meta = read_config(run_dir)
    dev = resolve_device(device)
    model, channels_last = prepare_model(config, tuple(meta["in_shape"]), meta["num_classes"], dev)
    load_weights(model, run_dir / "model.safetensors")
    return model.eval(), config, meta, channels_last


@dataclass
class TestRun:
    """A finished image run ready for evaluation: its model, config and test set in stored order."""

    run_dir: Path
    model: torch.nn.Module
    config: TrainConfig
    meta: dict
    device: torch.device
    dtype: torch.dtype | None
    test_set: ImageDataset
    loader: TensorLoader


def open_test_run(run_dir: Path, device: str = "auto", data_dir: str | None = None) -> TestRun:
    """Rebuild ``run_dir``'s model and load its test set (``data_dir`` overrides where data is looked for);
    what ``eval``, ``predict`` and the report all start from."""
    model, config, meta, channels_last = load_run(run_dir, device)
    dev = next(model.parameters()).device
    test_set = load_dataset(config.data, "test", data_dir or config.data_dir)
    return TestRun(run_dir, model, config, meta, dev, resolve_precision(config.precision, dev), test_set,
                   eval_loader(test_set, config, dev, channels_last))
