"""divekit tune with worker processes on one journal: the exact budget, a worker killed with SIGKILL mid-trial,
Ctrl-C and the same command again. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from divekit.tuning.storage import open_storage


def command(studies: Path, trials: int, workers: int, epochs: int = 1, storage: str | None = None) -> list[str]:
    return [sys.executable, "-m", "divekit", "tune", "--data", "fashion-mnist-mini", "--model", "softmax",
            "--epochs", str(epochs), "--param", "lr=log:0.01..0.5", "--trials", str(trials), "--workers",
            str(workers), "--pruner", "none", "--study", "w", "--studies-dir", str(studies),
            *(["--storage", storage] if storage else [])]


def load(studies: Path, storage: str | None = None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="w", storage=open_storage(studies / "w", storage))


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def running_trial(studies: Path, storage: str | None = None, timeout: float = 180) -> optuna.trial.FrozenTrial:
    """The first trial seen running with at least one epoch reported (a worker is inside its run)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            for t in load(studies, storage).trials:
                if t.state.name == "RUNNING" and t.intermediate_values and "worker" in t.user_attrs:
                    return t
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.3)
    raise AssertionError("no trial was seen running")


def kill_worker_of(trial: optuna.trial.FrozenTrial) -> int:
    pid = int(trial.user_attrs["worker"].split("-")[-2])  # HOST-PID-ID
    os.kill(pid, signal.SIGKILL)
    return pid


def check_budget(studies: Path, trials: int, storage: str | None = None) -> list[optuna.trial.FrozenTrial]:
    """Exactly ``trials`` trials complete; every other trial is a lost one whose values were run again."""
    done = load(studies, storage).trials
    complete = [t for t in done if t.state.name == "COMPLETE"]
    lost = [t for t in done if t.state.name == "FAIL"]
    assert len(complete) == trials and len(complete) + len(lost) == len(done)
    for t in lost:
        assert "error" not in t.user_attrs
        retries = [r for r in done if r.user_attrs.get("retry_of") == t.number]
        assert len(retries) == 1 and retries[0].params == t.params
    return done


def test_two_workers_share_one_journal_exactly(tmp_path):
    out = subprocess.run(command(tmp_path, trials=6, workers=2), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "lock" not in out.stderr.lower()
    done = check_budget(tmp_path, 6)
    assert len(done) == 6 and len({t.user_attrs["worker"] for t in done}) == 2
    finished = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("trial ")]
    assert sorted(map(int, finished)) == list(range(6))  # one progress line per trial


def test_a_dead_workers_lease_is_free_and_a_live_ones_is_not(tmp_path):
    from divekit.tuning.storage import WORKERS, worker_alive

    (tmp_path / WORKERS).mkdir()
    lease = tmp_path / WORKERS / "host-1-abc.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(lease)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    assert worker_alive(tmp_path, "host-1-abc")
    holder.kill()
    holder.wait()
    assert not worker_alive(tmp_path, "host-1-abc") and not lease.exists()  # the kernel let go of the dead one's lock
    assert not worker_alive(tmp_path, None) and not worker_alive(tmp_path, "never-started")


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_the_study_going(tmp_path):
    proc = start(command(tmp_path, trials=4, workers=2, epochs=15))
    victim = running_trial(tmp_path)
    kill_worker_of(victim)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"trial {victim.number} lost: its worker is gone" in stdout
    assert "ended early (exit [-9])" in stdout
    done = check_budget(tmp_path, 4)
    assert [t.number for t in done if t.state.name == "FAIL"] == [victim.number]


@pytest.mark.slow
def test_the_only_worker_killed_then_the_same_command_finishes_the_budget(tmp_path):
    proc = start(command(tmp_path, trials=3, workers=1, epochs=15))
    victim = running_trial(tmp_path)
    kill_worker_of(victim)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert load(tmp_path).trials[victim.number].state.name == "RUNNING"  # as the kill left it
    out = subprocess.run(command(tmp_path, trials=3, workers=1, epochs=15), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"trial {victim.number} lost" in out.stdout
    check_budget(tmp_path, 3)


@pytest.mark.slow
def test_ctrl_c_then_the_same_command_resumes(tmp_path):
    proc = start(command(tmp_path, trials=4, workers=2, epochs=15))
    running_trial(tmp_path)
    finished_before = {t.number: t.value for t in load(tmp_path).trials if t.state.name == "COMPLETE"}
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "run the same command again to resume it" in stderr
    assert not [t for t in load(tmp_path).trials if t.state.name == "RUNNING"]
    out = subprocess.run(command(tmp_path, trials=4, workers=2, epochs=15), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    done = check_budget(tmp_path, 4)
    assert {n: done[n].value for n in finished_before} == finished_before
