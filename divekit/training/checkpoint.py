"""Checkpoints: save the whole training state, and restore it so a resumed run ends bit for bit where an
uninterrupted run ends.

A checkpoint is one file, ``RUN/checkpoint/last.safetensors``:

- tensors (safetensors, no pickle): ``model.*`` (the state dict), ``optim.<i>.<key>`` (optimizer state of
  parameter ``i``), ``sums.*`` (the partial epoch's metric sums), ``rng.*`` (torch CPU and CUDA, numpy);
- JSON in the safetensors header (``metadata["divekit"]``): epoch, step, batches done in the epoch, the
  history so far, the optimizer's hyper-parameters and scalar state, Python's RNG, and a format number.

The learning rate is not saved: the schedule is a pure function of ``state.step``. The data order is not
saved either: ``TensorLoader`` draws epoch ``e``'s order from ``seed * 1_000_003 + e``, and ``fit`` skips the
``state.batch`` batches already done.

Writing is atomic (``divekit.runs.atomic_write``: temporary file, fsync, rename, then fsync of the folder),
so the previous checkpoint stays whole until the new one is complete, and a kill at any moment leaves one
good checkpoint. Reading never unpickles anything: a crafted file is refused as not a checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.errors import CheckpointError, ConfigError
from divekit.runs import atomic_write
from divekit.training.config import TrainConfig
from divekit.training.rundir import load_fitting
from divekit.training.state import EpochSums, State

FORMAT = 1
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "last.safetensors"


def checkpoint_path(run_dir: str | os.PathLike) -> Path:
    """``RUN/checkpoint/last.safetensors``."""
    return Path(run_dir) / CHECKPOINT_DIR / CHECKPOINT_FILE


class Checkpointer:
    """Callback writing a checkpoint every ``every`` steps (0: never mid-epoch) and at each epoch end.

    Before writing it makes sure no non-finite step slipped through (``state.guard``), so a diverged run
    never replaces the last good checkpoint.
    """

    def __init__(self, run_dir: str | os.PathLike, every: int = 0) -> None:
        if every < 0:
            raise CheckpointError(f"--checkpoint-every must be ≥ 0, got {every}")
        self.path = checkpoint_path(run_dir)
        self.every = every

    def on_step_end(self, state: State) -> None:
        # the last batch of an epoch is saved by on_epoch_end, after evaluation
        if self.every and state.step % self.every == 0 and state.batch < state.steps_per_epoch:
            self.save(state)

    def on_epoch_end(self, state: State) -> None:
        self.save(state)

    def write(self, data: bytes) -> None:
        """Replace the checkpoint file with ``data`` atomically (the kill-and-resume tests interrupt it here)."""
        atomic_write(self.path, lambda f: f.write(data), owner=True)

    def save(self, state: State) -> Path:
        """Write the checkpoint of ``state`` atomically; returns its path."""
        if state.guard is not None:
            state.guard.check()
        from safetensors.torch import save

        tensors, meta = capture(state)
        try:
            header = json.dumps(meta)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{self.path}: cannot save the training state as JSON ({e})") from None
        data = save(tensors, metadata={"divekit": header})
        try:
            _remove_stale_temporaries(self.path.parent)
            self.write(data)
            _fsync_dir(self.path.parent)
        except OSError as e:
            raise CheckpointError(f"{self.path}: cannot write the checkpoint ({e.strerror or e}); "
                                  f"the previous checkpoint, if any, is kept") from None
        return self.path


def config_for_resume(run_dir: Path, config: TrainConfig | None = None) -> tuple[TrainConfig, dict[str, Any]]:
    """The saved configuration and meta of the unfinished run ``run_dir``.

    Raises:
        CheckpointError: not a run directory, or a run that already finished (it has ``summary.json``).
        ConfigError: ``config`` is given and differs from the run's own.
    """
    from divekit.training.rundir import read_config

    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir}: not a run directory (no config.json), nothing to resume")
    saved, meta = read_config(run_dir)
    if (run_dir / "summary.json").is_file():
        # report.html is derived from summary.json, written after it: a kill in between leaves only it out
        hint = "" if (run_dir / "report.html").is_file() else f" Its report is missing: divekit report {run_dir}"
        raise CheckpointError(f"{run_dir}: this run already finished (it has summary.json); nothing to resume. "
                              f"Start a new run to train again, or to train on from its weights: --init "
                              f"{run_dir}.{hint}")
    if config is not None and config != saved:
        raise ConfigError(f"{run_dir}: a resumed run keeps its own configuration (config.json); "
                          f"the one given differs")
    return saved, meta


def check_free_space(run_dir: Path, state: State, margin: int = 64 << 20) -> None:
    """Fail before training when the disk cannot hold the checkpoints: two at once while one is replaced,
    each the model plus up to two optimizer slots per parameter, then the final weights."""
    model_bytes = sum(t.numel() * t.element_size() for t in state.model.state_dict().values())
    need = 7 * model_bytes + margin
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise CheckpointError(f"{run_dir}: only {free / 2**20:.0f} MiB free on its disk; this run needs about "
                              f"{need / 2**20:.0f} MiB for checkpoints and weights")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old file back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files left by a process killed while writing (it could not clean up after itself)."""
    for tmp in folder.glob(f".{CHECKPOINT_FILE}.*.tmp"):
        tmp.unlink(missing_ok=True)


def capture(state: State) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything needed to continue ``state``: ``(tensors, JSON-able metadata)``."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state.model.state_dict().items()}
    opt = state.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in opt["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    sums = state.sums or EpochSums.zeros(torch.device("cpu"))
    tensors["sums.loss"], tensors["sums.correct"] = sums.loss.detach().cpu(), sums.correct.detach().cpu()
    tensors["rng.torch"] = torch.get_rng_state()
    # an uninitialised CUDA has drawn nothing (and starting it here would cost seconds and memory)
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    for i, s in enumerate(cuda_states):
        tensors[f"rng.cuda.{i}"] = s
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np_keys.astype(np.int64))
    py_version, py_state, py_gauss = random.getstate()
    meta = {
        "format": FORMAT, "epoch": state.epoch, "step": state.step, "batch": state.batch, "seen": sums.seen,
        "total_steps": state.total_steps, "steps_per_epoch": state.steps_per_epoch,
        "seconds": state.seconds, "history": state.history, "skipped": state.skipped,
        "resumed_at": state.resumed_at,
        "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
        "rng": {"cuda_devices": len(cuda_states), "numpy": [np_kind, np_pos, np_has_gauss, np_gauss],
                "python": [py_version, list(py_state), py_gauss]},
    }
    return tensors, meta


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and metadata of a checkpoint file; ``CheckpointError`` naming the file if it is not one.

    safetensors checks the header (size-limited) against the file size before any tensor is read, so a
    hostile header cannot make it allocate more than the file holds.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta_json = (f.metadata() or {}).get("divekit")
            if meta_json is None:
                raise CheckpointError(f"{path}: a safetensors file but not a divekit checkpoint (no metadata)")
            meta = json.loads(meta_json)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RecursionError, UnicodeError) as e:
        raise CheckpointError(f"{path}: not a valid checkpoint ({type(e).__name__}: {e})") from None
    _check_meta(meta, path)
    return tensors, meta


_META_TYPES = {"format": int, "epoch": int, "step": int, "batch": int, "seen": int, "total_steps": int,
               "steps_per_epoch": int, "seconds": (int, float), "history": list, "skipped": list,
               "resumed_at": list, "optimizer": dict, "rng": dict}


def _check_meta(meta: Any, path: Path) -> None:
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: checkpoint metadata is not a JSON object")
    for key, kind in _META_TYPES.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise CheckpointError(f"{path}: checkpoint entry {key!r} missing or of the wrong type")
    if meta["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta['format']}, this divekit reads format {FORMAT}")
    if not all(isinstance(row, dict) for row in meta["history"]):
        raise CheckpointError(f"{path}: checkpoint history must be a list of objects")


def restore(run_dir: str | os.PathLike, state: State) -> bool:
    """Load ``RUN/checkpoint/last.safetensors`` into a fresh ``state`` (from ``fit.new_state``), in place.

    Restores the model, the optimizer, epoch/step/batch, the partial epoch's sums, the history and every
    RNG. Returns False (and leaves ``state`` alone) when the run has no checkpoint yet.

    Raises:
        CheckpointError: the file is not a checkpoint of this run (corrupt, crafted, other model or data).
    """
    path = checkpoint_path(run_dir)
    if not path.is_file():
        return False
    tensors, meta = read_checkpoint(path)
    expected = {"steps_per_epoch": state.steps_per_epoch, "total_steps": state.total_steps}
    for key, value in expected.items():
        if meta[key] != value:
            raise CheckpointError(f"{path}: written for {key} = {meta[key]}, but this run has {value} "
                                  f"(different data or configuration?)")
    if not 0 <= meta["batch"] <= state.steps_per_epoch or not 0 <= meta["epoch"] <= state.config.epochs:
        raise CheckpointError(f"{path}: epoch {meta['epoch']} / batch {meta['batch']} out of range")
    load_fitting(state.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    _load_optimizer(state.optimizer, tensors, meta["optimizer"], path)
    loss_sum, correct = tensors.get("sums.loss"), tensors.get("sums.correct")
    if not (isinstance(loss_sum, torch.Tensor) and loss_sum.dtype == torch.float64 and loss_sum.dim() == 0
            and isinstance(correct, torch.Tensor) and correct.dtype == torch.int64 and correct.dim() == 0):
        raise CheckpointError(f"{path}: the epoch's running sums are missing or malformed")
    loss_sum, correct = loss_sum.to(state.device), correct.to(state.device)
    state.epoch, state.step, state.batch = meta["epoch"], meta["step"], meta["batch"]
    state.sums = EpochSums(loss_sum, correct, meta["seen"]) if state.batch else None
    state.history, state.seconds, state.skipped = meta["history"], float(meta["seconds"]), meta["skipped"]
    state.resumed_at = [*meta["resumed_at"], state.step]
    _set_rng(tensors, meta["rng"], path)
    return True


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict, path: Path) -> None:
    """Rebuild the optimizer's state dict from its tensors and its JSON (groups and scalar state)."""
    merged = _merge_groups(opt.state_dict()["param_groups"], saved.get("param_groups"), path)
    params = [p for group in opt.param_groups for p in group["params"]]  # state_dict numbers them this way
    per_param: dict[int, dict[str, Any]] = {}
    try:
        for name, value in tensors.items():
            if name.startswith("optim."):
                index, _, key = name[6:].partition(".")
                if value.dim() and value.shape != params[int(index)].shape:  # moments have the shape of p
                    raise ValueError(f"{name} has shape {tuple(value.shape)}, the parameter "
                                     f"{tuple(params[int(index)].shape)}")
                per_param.setdefault(int(index), {})[key] = value
        for index, values in (saved.get("scalars") or {}).items():
            if not all(_same_kind(0.0, v) or v is None or isinstance(v, bool) for v in values.values()):
                raise ValueError(f"non-numeric state for parameter {index}")
            per_param.setdefault(int(index), {}).update(values)
        opt.load_state_dict({"state": per_param, "param_groups": merged})
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit this run's optimizer ({e})") from None


def _same_kind(fresh: Any, saved: Any) -> bool:
    if isinstance(fresh, bool) or fresh is None or isinstance(fresh, str):
        return type(saved) is type(fresh)
    if isinstance(fresh, (int, float)):
        return isinstance(saved, (int, float)) and not isinstance(saved, bool)
    if isinstance(fresh, (tuple, list)):
        return isinstance(saved, list) and len(saved) == len(fresh) and all(map(_same_kind, fresh, saved))
    return False


def _merge_groups(fresh: list[dict], saved: Any, path: Path) -> list[dict]:
    """The saved hyper-parameters of each group, checked against the groups this run's optimizer has
    (same parameters, same keys, values of the same kinds; JSON lists become tuples again where needed)."""
    if not isinstance(saved, list) or len(saved) != len(fresh):
        raise CheckpointError(f"{path}: optimizer parameter groups do not match this run's optimizer")
    merged = []
    for new, old in zip(fresh, saved, strict=True):
        if not isinstance(old, dict) or set(old) != set(new) or old["params"] != new["params"]:
            raise CheckpointError(f"{path}: optimizer parameter groups do not match this run's optimizer")
        for key, value in new.items():
            if not _same_kind(value, old[key]):
                raise CheckpointError(f"{path}: optimizer setting {key!r} is {old[key]!r}, expected a value "
                                      f"like {value!r}")
        merged.append({k: tuple(old[k]) if isinstance(v, tuple) else old[k] for k, v in new.items()})
    return merged


def _set_rng(tensors: dict[str, torch.Tensor], rng: dict, path: Path) -> None:
    try:
        torch.set_rng_state(tensors["rng.torch"])
        if torch.cuda.is_available() and rng.get("cuda_devices") == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([tensors[f"rng.cuda.{i}"] for i in range(rng["cuda_devices"])])
        kind, pos, has_gauss, gauss = rng["numpy"]
        np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
        version, py_state, py_gauss = rng["python"]
        random.setstate((version, tuple(py_state), py_gauss))
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
        raise CheckpointError(f"{path}: random-number-generator state is damaged ({type(e).__name__}: {e})") \
            from None
