"""divekit tune's workers and faults, shown on the bundled Fashion-MNIST sample (what each study recorded).

- ``journal``: two worker processes on one study folder; ``postgres``: the same against a PostgreSQL server
  started for the run (tests/helpers/postgres.py); each: the trial count, the states, any lock message;
- ``kill``: a worker of two killed with SIGKILL mid-trial; ``kill-only``: the only worker killed, then the
  same command again; each: the states the study recorded and whether the budget was finished.

Prints one JSON line per scenario. Usage: python bench/tune_faults.py [--trials 8]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from divekit.tuning.storage import open_storage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def command(studies: Path, trials: int, workers: int, epochs: int, storage: str | None = None) -> list[str]:
    return [sys.executable, "-m", "divekit", "tune", "--data", "fashion-mnist-mini", "--model", "softmax",
            "--epochs", str(epochs), "--param", "lr=log:0.01..0.5", "--trials", str(trials), "--workers",
            str(workers), "--pruner", "none", "--study", "w", "--studies-dir", str(studies),
            *(["--storage", storage] if storage else [])]


def recorded(studies: Path, storage: str | None) -> dict:
    study = optuna.load_study(study_name="w", storage=open_storage(studies / "w", storage))
    states = collections.Counter(t.state.name.lower() for t in study.trials)
    retries = {t.number: t.user_attrs["retry_of"] for t in study.trials if "retry_of" in t.user_attrs}
    return {"trials": len(study.trials), "states": dict(states), "retries (trial: of)": retries}


def run(argv: list[str]) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True)
    return {"exit": out.returncode, "seconds": round(time.perf_counter() - t0, 1),
            "lock messages": sum("lock" in line.lower() for line in out.stderr.splitlines()),
            "tracebacks": out.stderr.count("Traceback")}


def kill_mid_trial(argv: list[str], studies: Path, storage: str | None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        time.sleep(0.3)
        try:
            trials = optuna.load_study(study_name="w", storage=open_storage(studies / "w", storage)).trials
        except KeyError:
            continue
        running = [t for t in trials if t.state.name == "RUNNING" and t.intermediate_values]
        if running:
            os.kill(int(running[0].user_attrs["worker"].split("-")[-2]), signal.SIGKILL)
            return proc, running[0].number


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from tests.helpers.postgres import Server, why_not

    server = None if why_not() else Server()
    try:
        for scenario, storage in (("journal", None), ("postgres", server and server.url)):
            if scenario == "postgres" and storage is None:
                print(json.dumps({"scenario": scenario, "skipped": why_not()}), flush=True)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                result = run(command(Path(tmp), args.trials, 2, 1, storage))
                print(json.dumps({"scenario": f"{scenario}, 2 workers", **result,
                                  **recorded(Path(tmp), storage)}), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            proc, victim = kill_mid_trial(command(Path(tmp), args.trials, 2, 15), Path(tmp), None)
            out, _ = proc.communicate()
            print(json.dumps({"scenario": "journal, 1 of 2 workers SIGKILLed", "killed trial": victim,
                              "exit": proc.returncode, "summary": out.strip().splitlines()[-4:],
                              **recorded(Path(tmp), None)}), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            proc, victim = kill_mid_trial(command(Path(tmp), 3, 1, 15), Path(tmp), None)
            proc.communicate()
            before = recorded(Path(tmp), None)
            again = run(command(Path(tmp), 3, 1, 15))
            print(json.dumps({"scenario": "journal, the only worker SIGKILLed, then the same command",
                              "killed trial": victim, "after the kill": before, "rerun": again,
                              "after the rerun": recorded(Path(tmp), None)}), flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
