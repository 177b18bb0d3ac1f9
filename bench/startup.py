"""Start-up: ``divekit --help`` wall time, and importing divekit against importing torch.

Every measurement is a fresh process; the commands take turns (interleaved), after one untimed warm-up run
of each (compiled bytecode and the page cache are warm, as for any second use). For each command the
median wall time and the median CPU time (user + system of the child: steadier than wall time on a busy
machine) are reported. Figures, one JSON line each:

- ``divekit --help``: target ≤ 0.3 s (``python -c pass`` is timed alongside, as the floor);
- ``import divekit`` / ``import torch``: target ≤ 1.2×. ``import divekit`` loads no torch, so the ratio of
  the training stack (``import divekit.training.run``: torch, data, models, loop, checkpoints) is reported too.

Usage: python bench/startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def help_command() -> list[str]:
    """The ``divekit`` console script next to this Python (as a user types it), else ``python -m divekit``."""
    script = Path(sys.executable).parent / "divekit"
    if script.exists():
        return [str(script), "--help"]
    found = shutil.which("divekit")
    return [found, "--help"] if found else [sys.executable, "-m", "divekit", "--help"]


COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "divekit --help": help_command(),
    "import torch": [sys.executable, "-c", "import torch"],
    "import divekit": [sys.executable, "-c", "import divekit"],
    "import divekit.training.run": [sys.executable, "-c", "import divekit.training.run"],
}


def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-1000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(repeat: int, env: dict) -> dict[str, dict[str, float]]:
    names = list(COMMANDS)
    for name in names:  # warm-up
        run_once(COMMANDS[name], env)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeat):
        for name in names if r % 2 == 0 else names[::-1]:
            w, c = run_once(COMMANDS[name], env)
            wall[name].append(w)
            cpu[name].append(c)
    return {n: {"wall": statistics.median(wall[n]), "cpu": statistics.median(cpu[n]),
                "wall_min": min(wall[n])} for n in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]  # a checkout runs without installing
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    m = measure(args.repeat, env)
    for name, t in m.items():
        print(json.dumps({"bench": "startup", "command": name, "repeat": args.repeat,
                          "median_s": round(t["wall"], 4), "min_s": round(t["wall_min"], 4),
                          "cpu_median_s": round(t["cpu"], 4)}), flush=True)
    help_ = m["divekit --help"]
    print(json.dumps({"bench": "startup", "figure": "divekit --help", "median_s": round(help_["wall"], 4),
                      "cpu_median_s": round(help_["cpu"], 4), "python_floor_s": round(m["python -c pass"]["wall"], 4),
                      "target_s": 0.3, "ok": help_["wall"] <= 0.3}), flush=True)
    torch_ = m["import torch"]
    for name in ("import divekit", "import divekit.training.run"):
        ratio, cpu_ratio = m[name]["wall"] / torch_["wall"], m[name]["cpu"] / torch_["cpu"]
        print(json.dumps({"bench": "startup", "figure": f"{name} / import torch", "ratio": round(ratio, 3),
                          "cpu_ratio": round(cpu_ratio, 3), "target": 1.2, "ok": ratio <= 1.2}), flush=True)


if __name__ == "__main__":
    main()
