"""Property-based fuzzing of the checkpoint reader (``divekit.training.checkpoint.restore``).

Contract: whatever ``RUN/checkpoint/last.safetensors`` holds (random bytes, a truncated or bit-flipped real
checkpoint, valid safetensors with hostile JSON metadata or malformed tensors, a header declaring petabytes),
``restore`` either loads it or raises ``CheckpointError`` naming the file on one line; it never allocates more
than the file holds and never unpickles. ``DIVEKIT_FUZZ_EXAMPLES`` raises the number of examples.
"""

from __future__ import annotations

import json
import os
import struct
import tracemalloc

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.errors import CheckpointError
from divekit.training.checkpoint import Checkpointer, checkpoint_path, read_checkpoint, restore
from divekit.training.config import TrainConfig
from divekit.training.fit import fit, new_state

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CFG = TrainConfig(epochs=1, batch_size=10, opt="adam", lr=0.01, schedule="constant", warmup=0.0, device="cpu",
                  precision="fp32")


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))


def fresh_state():
    return new_state(model(), CFG, 4, torch.device("cpu"))


class StopAfter:
    def on_step_end(self, state):
        state.stop = state.step == 2  # the epoch ends at once: a checkpoint with Adam moments, mid-run


class Good(bytes):
    def __repr__(self) -> str:  # keep Hypothesis' failure reports readable
        return f"<checkpoint of {len(self)} bytes>"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Good:
    """A real checkpoint: Adam state after 2 of 4 steps, half an epoch of sums."""
    folder = tmp_path_factory.mktemp("good")
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    batches = [(x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]
    saver = Checkpointer(folder, every=2)
    fit(model(), batches, CFG, callbacks=[saver, StopAfter()])
    return Good(checkpoint_path(folder).read_bytes())


def attempt(folder, content: bytes) -> bool:
    """Write ``content`` as the checkpoint and restore it: True if loaded, False if cleanly refused."""
    path = checkpoint_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        return restore(folder, fresh_state())
    except CheckpointError as e:
        assert str(path) in str(e) and "\n" not in str(e), str(e)
        return False


def rebuild(good: bytes, meta_change=None, tensor_change=None) -> bytes:
    """``good`` with its metadata and/or tensors edited, re-serialised as valid safetensors."""
    from safetensors.torch import save

    tensors, meta = read_checkpoint_bytes(good)
    if meta_change:
        meta_change(meta)
    if tensor_change:
        tensor_change(tensors)
    return save(tensors, metadata={"divekit": json.dumps(meta)})


def read_checkpoint_bytes(content: bytes):
    from safetensors.torch import load

    header_len = struct.unpack("<Q", content[:8])[0]
    meta = json.loads(content[8:8 + header_len])["__metadata__"]["divekit"]
    return load(content), json.loads(meta)


def test_the_good_checkpoint_loads(tmp_path, good):
    assert attempt(tmp_path, good)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(tmp_path, data):
    assert not attempt(tmp_path, data)


@FUZZ
@given(data=st.data())
def test_truncated_anywhere(tmp_path, good, data):
    cut = data.draw(st.integers(0, len(good) - 1))
    assert not attempt(tmp_path, good[:cut])


@FUZZ
@given(data=st.data())
def test_bytes_overwritten(tmp_path, good, data):
    """Flips anywhere: in the header they must be refused; in tensor data they may load (other values)."""
    content = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        content[data.draw(st.integers(0, len(good) - 1))] = data.draw(st.integers(0, 255))
    attempt(tmp_path, bytes(content))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
META_KEYS = ["format", "epoch", "step", "batch", "seen", "total_steps", "steps_per_epoch", "seconds", "history",
             "skipped", "resumed_at", "optimizer", "rng"]


@FUZZ
@given(key=st.sampled_from(META_KEYS), value=json_values, nested=st.booleans())
def test_hostile_metadata(tmp_path, good, key, value, nested):
    """Valid safetensors whose JSON has one entry (or one entry inside it) replaced by any JSON value."""
    def change(meta):
        target = meta[key]
        if nested and isinstance(target, dict) and target:
            target[sorted(target)[0]] = value
        elif nested and isinstance(target, list) and target:
            target[0] = value
        else:
            meta[key] = value

    attempt(tmp_path, rebuild(good, meta_change=change))


@FUZZ
@given(data=st.data())
def test_malformed_tensors(tmp_path, good, data):
    """One tensor dropped, or replaced by one of another dtype or shape."""
    names = sorted(read_checkpoint_bytes(good)[0])
    name = data.draw(st.sampled_from(names))
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.uint8]))
    shape = data.draw(st.lists(st.integers(0, 5), max_size=3))
    drop = data.draw(st.booleans())

    def change(tensors):
        if drop:
            del tensors[name]
        else:
            tensors[name] = torch.zeros(shape, dtype=dtype)

    attempt(tmp_path, rebuild(good, tensor_change=change))


@pytest.mark.parametrize("declared", [2**63, 2**40, 10**8])
def test_header_declaring_huge_sizes_allocates_nothing(tmp_path, declared):
    tracemalloc.start()
    try:
        assert not attempt(tmp_path, struct.pack("<Q", declared) + b'{"a":1}')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_a_folder_or_an_empty_file(tmp_path):
    assert not attempt(tmp_path, b"")
    path = checkpoint_path(tmp_path)
    path.unlink()
    path.mkdir()
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
