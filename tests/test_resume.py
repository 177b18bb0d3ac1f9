"""Kill a real ``divekit train`` process with SIGKILL, resume it, and get the uninterrupted run's bytes.

The guarantee under test (docs/reliability.md): a run killed at any moment loses at most the work since
its last checkpoint and, resumed (possibly several times), ends with ``model.safetensors`` and
``metrics.csv`` bitwise identical to those of an uninterrupted run.

Kill points come from ``tests/helpers/killable.py``, which runs the real command line with kill points
patched in (``--kill-at-step N``: the process SIGKILLs itself after that step; ``--kill-in-write N``: half-way
through writing that step's checkpoint), or from outside (``os.kill`` at a random moment, ``--write-delay``
widening the write window). The runs use the bundled 5,000-image sample, softmax regression, one thread: each
process takes a few seconds (most of it importing torch).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from divekit.training.checkpoint import checkpoint_path, read_checkpoint

REPO = Path(__file__).resolve().parents[1]
# 5,000 images / 250 = 20 steps per epoch, 40 in all; crops and flips exercise the augmentation RNG
ARGS = ["--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "2", "--batch-size", "250",
        "--threads", "1", "--device", "cpu", "--precision", "fp32", "--opt", "adam", "--lr", "0.01",
        "--schedule", "cosine", "--augment-crop", "2", "--flip", "--seed", "3"]
TOTAL_STEPS = 40
EVERY = 7
COMPARED = ("model.safetensors", "metrics.csv")


KILLABLE = REPO / "tests" / "helpers" / "killable.py"


def divekit_train(runs: Path, *args: str, kill: dict[str, str] | None = None, wait: bool = True):
    """Start ``divekit train`` in a fresh interpreter (a real process that a real SIGKILL can end); ``kill``:
    the kill points of ``tests/helpers/killable.py`` (``{"--kill-at-step": "31"}`` …)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    points = [part for flag, value in (kill or {}).items() for part in (flag, value)]
    cmd = [sys.executable, str(KILLABLE), *points, "--", "train", "--runs-dir", str(runs), *args]
    proc = subprocess.Popen(cmd, cwd=runs, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=900)
    return proc.returncode, out, err


def checkpoint_step(run: Path) -> int | None:
    path = checkpoint_path(run)
    return read_checkpoint(path)[1]["step"] if path.is_file() else None


def assert_same_as(reference: Path, run: Path) -> None:
    for name in COMPARED:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs after resume"


def resume_to_the_end(runs: Path, name: str) -> None:
    rc, _, err = divekit_train(runs, "--resume", name)
    assert rc == 0, err


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run, once per module."""
    runs = tmp_path_factory.mktemp("reference")
    rc, _, err = divekit_train(runs, *ARGS, "--name", "ref", "--checkpoint-every", str(EVERY))
    assert rc == 0, err
    assert json.loads((runs / "ref" / "summary.json").read_text())["final"]["test_acc"] > 0.6
    return runs / "ref"


def test_sigkill_then_resume_is_bitwise_identical(reference, tmp_path):
    rc, _, err = divekit_train(tmp_path, *ARGS, "--name", "k", "--checkpoint-every", str(EVERY),
                               kill={"--kill-at-step": "31"})
    assert rc == -signal.SIGKILL, err
    run = tmp_path / "k"
    assert not (run / "summary.json").exists() and not (run / "model.safetensors").exists()
    assert checkpoint_step(run) == 28  # the last multiple of 7 before 31: steps 29-31 are lost, then redone
    resume_to_the_end(tmp_path, "k")
    assert_same_as(reference, run)
    assert json.loads((run / "summary.json").read_text())["resumed_at_steps"] == [28]


def test_kill_inside_a_checkpoint_write_keeps_the_previous_one(reference, tmp_path):
    rc, _, err = divekit_train(tmp_path, *ARGS, "--name", "w", "--checkpoint-every", str(EVERY),
                               kill={"--kill-in-write": "14"})
    assert rc == -signal.SIGKILL, err
    run = tmp_path / "w"
    half_written = list((run / "checkpoint").glob(".last.safetensors.*.tmp"))
    assert len(half_written) == 1, "the kill did not land inside the write"
    assert checkpoint_step(run) == 7  # the previous checkpoint is whole and still in place
    resume_to_the_end(tmp_path, "w")
    assert_same_as(reference, run)
    assert not list((run / "checkpoint").glob("*.tmp"))  # the debris was cleaned up


def kill_and_resume_until_done(runs: Path, name: str, rng: random.Random, first_args: list[str]) -> list[str]:
    """Start the run, then kill it (hook or outside SIGKILL at a random moment) and resume, until it ends.
    Returns a log of what was done, for the failure message."""
    log, args = [], first_args
    for _ in range(8):
        how = rng.choice(["step", "write", "outside"])
        kill: dict[str, str] = {}
        if how == "step":
            kill["--kill-at-step"] = str(rng.randint(1, TOTAL_STEPS))
        elif how == "write":
            kill["--kill-in-write"] = str(rng.choice([*range(EVERY, TOTAL_STEPS + 1, EVERY), 20, 40]))
        else:
            kill["--write-delay"] = "0.05"
        proc = divekit_train(runs, *args, kill=kill, wait=False)
        if how == "outside":
            time.sleep(rng.uniform(2.5, 7.0))  # start-up takes ~2-3 s, training ~1-2 s
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=900)
        log.append(f"{how} {kill} -> rc {proc.returncode}, checkpoint at {checkpoint_step(runs / name)}")
        if proc.returncode == 0 or "already finished" in err:  # the last kill came after summary.json
            return log
        assert proc.returncode == -signal.SIGKILL, f"{log}\n{err}"
        if (runs / name / "config.json").is_file():
            args = ["--resume", name]
        else:  # killed while starting, before the run existed: start it again, as a user would
            shutil.rmtree(runs / name, ignore_errors=True)
            args = first_args
    resume_to_the_end(runs, name)
    return log


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_repeated_random_kills_still_end_bitwise_identical(reference, tmp_path, seed):
    rng = random.Random(seed)
    log = kill_and_resume_until_done(tmp_path, "r", rng, [*ARGS, "--name", "r", "--checkpoint-every", str(EVERY)])
    print("\n".join(log))  # shown with -rA or -s: which kills this seed exercised
    for name in COMPARED:
        assert (tmp_path / "r" / name).read_bytes() == (reference / name).read_bytes(), "\n".join(log)
