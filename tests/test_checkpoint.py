"""Checkpoint contents, safe loading, non-finite steps, write failures (in-process; each test < 2 s)."""

from __future__ import annotations

import errno
import os
import pickle
import random

import numpy as np
import pytest
import torch

from divekit.data.loader import TensorLoader
from divekit.errors import CheckpointError
from divekit.training.checkpoint import Checkpointer, checkpoint_path, read_checkpoint, restore
from divekit.training.config import TrainConfig
from divekit.training.fit import NonFiniteGuard, TrainingDiverged, fit, new_state
from divekit.training.rundir import load_weights

CFG = TrainConfig(epochs=2, batch_size=20, opt="adam", lr=0.01, schedule="cosine", warmup=0.0, device="cpu",
                  precision="fp32", label_smoothing=0.0, seed=0)


def tiny_loader(n: int = 200, seed: int = 0) -> TensorLoader:
    """``n`` random 8×8 images in 10 classes: 10 steps per epoch at batch 20."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=g)
    return TensorLoader(images, torch.randint(0, 10, (n,), generator=g), 20, shuffle=True, seed=seed)


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.Dropout(0.3),
                               torch.nn.ReLU(), torch.nn.Linear(16, 10))


class StopAt:
    """A crash stand-in: raise once ``step`` steps are done."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, state) -> None:
        if state.step == self.step:
            raise KeyboardInterrupt


def test_restore_continues_exactly_like_an_uninterrupted_fit(tmp_path):
    """Model, Adam moments, step, partial-epoch sums, history and the dropout RNG all come back."""
    reference = fit(tiny_model(), tiny_loader(), CFG)
    model = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        fit(model, tiny_loader(), CFG, callbacks=[Checkpointer(tmp_path, every=3), StopAt(14)])
    torch.manual_seed(123), np.random.seed(123), random.seed(123)  # the new process starts elsewhere
    model = tiny_model()
    state = new_state(model, CFG, 10, torch.device("cpu"))
    assert restore(tmp_path, state)
    assert (state.epoch, state.step, state.batch, len(state.history)) == (1, 12, 2, 1)
    resumed = fit(model, tiny_loader(), CFG, state=state)
    assert resumed.history == reference.history  # exact floats, including the resumed epoch's train_loss
    for a, b in zip(reference.model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_every_rng_round_trips(tmp_path):
    model = tiny_model()
    state = new_state(model, CFG, 10, torch.device("cpu"))
    Checkpointer(tmp_path).save(state)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    assert restore(tmp_path, new_state(tiny_model(), CFG, 10, torch.device("cpu")))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_checkpoint_is_safetensors_with_json_metadata(tmp_path):
    state = new_state(tiny_model(), CFG, 10, torch.device("cpu"))
    path = Checkpointer(tmp_path).save(state)
    assert path == tmp_path / "checkpoint" / "last.safetensors"
    tensors, meta = read_checkpoint(path)
    assert {"model.1.weight", "sums.loss", "rng.torch", "rng.numpy"} <= set(tensors)
    assert meta["format"] == 1 and meta["step"] == 0 and meta["steps_per_epoch"] == 10


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    Checkpointer(tmp_path).save(new_state(tiny_model(), CFG, 10, torch.device("cpu")))
    other = new_state(tiny_model(), CFG, 12, torch.device("cpu"))
    with pytest.raises(CheckpointError, match="steps_per_epoch = 10, but this run has 12"):
        restore(tmp_path, other)
    wider = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.Linear(32, 10))
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        restore(tmp_path, new_state(wider, CFG, 10, torch.device("cpu")))


class Payload:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_crafted_to_run_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"model": Payload(str(marker))})
    pickle.loads(evil)  # the payload is live: loading it with pickle does create the file
    assert marker.exists()
    marker.unlink()
    target = checkpoint_path(tmp_path)
    target.parent.mkdir()
    for content in (evil, _torch_save_bytes(Payload(str(marker)), tmp_path)):
        target.write_bytes(content)
        with pytest.raises(CheckpointError, match="not a valid checkpoint"):
            restore(tmp_path, new_state(tiny_model(), CFG, 10, torch.device("cpu")))
        with pytest.raises(CheckpointError, match="not a valid safetensors file"):
            load_weights(tiny_model(), target)
        assert not marker.exists()


def _torch_save_bytes(obj, folder) -> bytes:
    path = folder / "evil.pt"
    torch.save({"state": obj}, path)  # torch.save pickles the payload without running it
    return path.read_bytes()


def nan_at(steps: set[int], where: str = "loss"):
    """A loss that turns NaN (in the loss itself, or only in the gradient) at the given 0-based steps."""
    calls = {"n": 0}

    def loss_fn(out, y):
        loss = torch.nn.functional.cross_entropy(out, y)
        step, calls["n"] = calls["n"], calls["n"] + 1
        if step in steps:
            if where == "loss":
                return loss * float("nan")
            return loss + 0 * (out * 0).sqrt().sum()  # finite value, NaN gradient (d√x/dx = ∞ at 0; ∞·0)
        return loss

    return loss_fn


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_non_finite_step_stops_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path, where):
    model = tiny_model()
    with pytest.raises(TrainingDiverged, match="at step 10 "):
        fit(model, tiny_loader(), CFG, callbacks=[Checkpointer(tmp_path, every=4)], loss_fn=nan_at({10}, where))
    tensors, meta = read_checkpoint(checkpoint_path(tmp_path))
    assert meta["step"] == 10 and meta["batch"] == 0  # the epoch-end checkpoint before the bad step
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad update was never applied


def test_on_nan_skip_skips_those_steps_and_goes_on(tmp_path):
    model = tiny_model()
    state = fit(model, tiny_loader(), CFG, loss_fn=nan_at({5, 13}, "gradient"), on_nan="skip")
    assert state.skipped == [5, 13] and state.step == 20 and len(state.history) == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_deferred_check_as_on_a_gpu_refuses_to_checkpoint_after_a_bad_step(tmp_path):
    """On a GPU the check is deferred (no sync per step); the checkpoint must still never be replaced."""
    model = tiny_model()
    state = new_state(model, CFG, 10, torch.device("cpu"))
    state.guard = NonFiniteGuard(torch.device("cpu"))
    state.guard.eager = False  # what a CUDA device gets
    saver = Checkpointer(tmp_path)
    good = saver.save(state).read_bytes()
    state.step = 6
    assert state.guard.step_ok(torch.tensor(float("inf")), model, state)  # recorded, not raised
    state.step = 7
    with pytest.raises(TrainingDiverged, match="at step 6"):
        saver.save(state)
    assert checkpoint_path(tmp_path).read_bytes() == good


def test_a_failed_write_keeps_the_previous_checkpoint_and_says_why(tmp_path, monkeypatch):
    state = new_state(tiny_model(), CFG, 10, torch.device("cpu"))
    saver = Checkpointer(tmp_path)
    good = saver.save(state).read_bytes()
    state.step = 5

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint.*kept"):
        saver.save(state)
    monkeypatch.undo()
    assert checkpoint_path(tmp_path).read_bytes() == good
    assert [p.name for p in (tmp_path / "checkpoint").iterdir()] == ["last.safetensors"]


def test_bad_on_nan_and_checkpoint_every_are_refused(tmp_path):
    from divekit.errors import ConfigError

    with pytest.raises(ConfigError, match="--on-nan must be one of stop, skip"):
        fit(tiny_model(), tiny_loader(), CFG, on_nan="ignore")
    with pytest.raises(CheckpointError, match="--checkpoint-every must be ≥ 0"):
        Checkpointer(tmp_path, every=-1)


def test_weights_that_do_not_fit_are_described(tmp_path):
    """The error names what is missing, what is extra and what has another shape, not torch's first line."""
    from divekit.training.rundir import load_weights, save_weights

    save_weights(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)), tmp_path / "w.safetensors")
    other = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    with pytest.raises(CheckpointError) as info:
        load_weights(other, tmp_path / "w.safetensors")
    message = str(info.value)
    assert "w.safetensors: weights do not fit the model" in message
    assert "2 tensor(s) missing (2.weight, 2.bias)" in message
    assert "2 the model does not have (1.bias, 1.weight)" in message
    assert "2 of another shape (0.weight saved [3, 4], model [5, 4], 0.bias saved [3], model [5])" in message
