"""Run directories: never shared (also under concurrency), unwritable or full disks fail early and clearly;
``--resume`` refuses what it cannot continue."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from divekit.cli import main
from divekit.errors import CheckpointError
from divekit.runs import new_run_dir, write_json
from divekit.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def test_same_name_twice_gives_two_directories(tmp_path):
    a, b = new_run_dir(tmp_path, "x"), new_run_dir(tmp_path, "x")
    assert (a.name, b.name) == ("x", "x-2") and a.is_dir() and b.is_dir()


def test_same_name_from_many_threads_at_once(tmp_path):
    barrier, made, lock = threading.Barrier(16), [], threading.Lock()

    def worker():
        barrier.wait()
        d = new_run_dir(tmp_path, "same")
        with lock:
            made.append(d)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 16 and len(list(tmp_path.iterdir())) == 16


def test_same_name_from_several_processes_at_once(tmp_path):
    """Real processes released at the same instant; ``mkdir`` is the arbiter."""
    start = time.time() + 1.5
    code = ("import sys, time; from divekit.runs import new_run_dir; "
            f"time.sleep(max(0, {start} - time.time())); print(new_run_dir(sys.argv[1], 'same'))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(6)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 6 and sorted(Path(o).name for o in outs) == ["same", *[f"same-{i}" for i in range(2, 7)]]


def test_run_root_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot create run root .*file"):
        new_run_dir(blocker / "runs", "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_run_root(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="cannot create run directory"):
            new_run_dir(tmp_path, "x")
    finally:
        tmp_path.chmod(0o700)


def test_full_disk_is_found_before_anything_runs(tmp_path, monkeypatch):
    def no_space(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(CheckpointError, match="is not writable: No space left on device"):
        new_run_dir(tmp_path, "x")


def test_too_little_free_space_for_checkpoints_fails_before_training(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from divekit.training import checkpoint

    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: SimpleNamespace(free=2**20))
    rc = main(["train", "--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "1", "--device", "cpu",
               "--runs-dir", str(tmp_path), "--name", "full"])
    err = capsys.readouterr().err
    assert rc == 2 and "only 1 MiB free" in err and err.count("\n") == 1
    assert not (tmp_path / "full" / "metrics.csv").exists()


def fake_run(folder: Path, finished: bool) -> Path:
    folder.mkdir(parents=True)
    write_json(folder / "config.json", {"config": TrainConfig(data="fashion-mnist-mini").to_dict(), "meta": {}})
    if finished:
        write_json(folder / "summary.json", {"final": {}})
    return folder


@pytest.mark.parametrize("extra, needle", [
    ([], "already finished (it has summary.json); nothing to resume. Start a new run to train again, or to train on "
         "from its weights: --init "),
    (["--epochs", "4", "--lr", "0.1"], "drop --epochs, --lr"),
])
def test_resume_refusals_are_one_line_exit_2(tmp_path, capsys, extra, needle):
    fake_run(tmp_path / "runs" / "done", finished=True)
    rc = main(["train", "--runs-dir", str(tmp_path / "runs"), "--resume", "done", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.count("\n") == 1


def test_resume_of_a_missing_or_broken_run(tmp_path, capsys):
    assert main(["train", "--runs-dir", str(tmp_path), "--resume", "nothing-here"]) == 2
    assert "run 'nothing-here' not found" in capsys.readouterr().err
    broken = fake_run(tmp_path / "broken", finished=False)
    (broken / "config.json").write_text(json.dumps({"config": {"epochs": "three"}}))
    assert main(["train", "--resume", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "config.json: epochs should be int" in err and err.count("\n") == 1


def test_resume_before_the_first_checkpoint_starts_over_in_the_same_directory(tmp_path):
    from divekit.training.run import train_run

    class Crash:
        def on_step_end(self, state):
            if state.step == 3:
                raise KeyboardInterrupt

    cfg = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=1, batch_size=500, device="cpu", threads=1)
    ref, _ = train_run(cfg, tmp_path, "ref")
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path, "crash", callbacks=[Crash()])
    run = tmp_path / "crash"
    assert not (run / "checkpoint" / "last.safetensors").exists()
    assert train_run(None, resume=run)[0] == run
    for name in ("model.safetensors", "metrics.csv"):
        assert (run / name).read_bytes() == (ref / name).read_bytes()


def test_cli_stops_on_nan_naming_the_step_and_keeps_the_checkpoint(tmp_path, capsys):
    rc = main(["train", "--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "2", "--device", "cpu",
               "--batch-size", "500", "--lr", "1e38", "--schedule", "constant", "--runs-dir", str(tmp_path),
               "--name", "nan", "--checkpoint-every", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "at step" in err and "start a new run with a smaller --lr" in err and err.count("\n") == 1
    from divekit.training.checkpoint import checkpoint_path, read_checkpoint

    tensors, meta = read_checkpoint(checkpoint_path(tmp_path / "nan"))
    assert all(t.isfinite().all() for t in tensors.values() if t.is_floating_point())
    assert f"at step {meta['step']} " in err  # the checkpoint is the one just before the bad step
