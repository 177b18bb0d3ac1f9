"""divekit tune against a real PostgreSQL server that the tests start: workers on one machine, commands on
"two machines" (two study folders) joining one study, and a worker killed with SIGKILL (its heartbeat stops)."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.postgres import Server, why_not
from tests.test_tune_workers import check_budget, command, kill_worker_of, load, running_trial, start

pytestmark = pytest.mark.skipif(why_not() is not None, reason=f"no PostgreSQL server here: {why_not()}")


@pytest.fixture(scope="module")
def postgres():
    server = Server()
    yield server.url
    server.stop()


def drop_study(url: str) -> None:
    import optuna

    try:
        optuna.delete_study(study_name="w", storage=url)
    except KeyError:
        pass


def test_two_workers_on_postgresql_exactly(postgres, tmp_path):
    drop_study(postgres)
    out = subprocess.run(command(tmp_path, trials=5, workers=2, storage=postgres), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "lock" not in out.stderr.lower()
    done = check_budget(tmp_path, 5, postgres)
    assert len(done) == 5 and len({t.user_attrs["worker"] for t in done}) == 2


@pytest.mark.slow
def test_the_same_command_on_two_machines_joins_one_study(postgres, tmp_path):
    drop_study(postgres)
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    procs = [start(command(folder, trials=6, workers=1, storage=postgres)) for folder in machines]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    done = check_budget(machines[0], 6, postgres)
    assert len(done) == 6
    ran = [sorted(p.name for p in (folder / "w" / "runs").iterdir()) for folder in machines]
    assert sorted(ran[0] + ran[1]) == [f"trial-{i:04d}" for i in range(6)]  # each trial run on one machine
    for folder in machines:  # each machine's report shows the whole study
        assert (folder / "w" / "report.html").read_text().count("trial-0") >= 6


@pytest.mark.slow
def test_a_killed_worker_is_failed_by_its_silent_heartbeat(postgres, tmp_path):
    drop_study(postgres)
    proc = start(command(tmp_path, trials=4, workers=2, epochs=40, storage=postgres))
    victim = running_trial(tmp_path, postgres)
    kill_worker_of(victim)
    stdout, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 0, stderr
    assert f"trial {victim.number} lost" in stdout
    check_budget(tmp_path, 4, postgres)
    assert load(tmp_path, postgres).trials[victim.number].state.name == "FAIL"
