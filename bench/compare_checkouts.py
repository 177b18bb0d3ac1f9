"""The default ``divekit train`` from two checkouts of the repository, interleaved: did a change make it faster?

Each run is ``python -m divekit train`` (the whole command) with the checkout first on ``PYTHONPATH`` and as
the working directory, the same interpreter for both; the order alternates each repeat. Prints one JSON line
per run (wall seconds, the run's own training seconds, so the time outside training is their difference, and
the test accuracy) and a summary line with the medians.

Usage: python bench/compare_checkouts.py OLD_CHECKOUT [NEW_CHECKOUT (default: this one)] [--repeat N]
       (e.g. ``git worktree add ../divekit-old <commit>`` for OLD_CHECKOUT; set DIVEKIT_DATA)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(checkout: Path, runs: Path, extra: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "divekit", "train", "--runs-dir", str(runs), "--name", "x", *extra],
                   cwd=checkout, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    summary = json.loads((runs / "x" / "summary.json").read_text())
    return {"seconds": round(seconds, 2), "train_seconds": summary["train_seconds"],
            "outside_training_s": round(seconds - summary["train_seconds"], 2),
            "accuracy": summary["final"].get("test_acc")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path, nargs="?", default=HERE.parent)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--args", default="", help="extra arguments for divekit train, as one string")
    args = ap.parse_args()
    arms = {"old": args.old.resolve(), "new": args.new.resolve()}
    rows: dict[str, list[dict]] = {k: [] for k in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for who in (list(arms) if r % 2 == 0 else list(arms)[::-1]):
                row = one_run(arms[who], Path(tmp) / f"{who}-{r}", args.args.split())
                rows[who].append(row)
                print(json.dumps({"bench": "compare_checkouts", "who": who, "repeat": r, **row}), flush=True)
    med = {who: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "outside_training_s")}
           for who, rs in rows.items()}
    summary: dict = {"bench": "compare_checkouts", "summary": True, "repeat": args.repeat}
    for who, m in med.items():
        summary[f"{who}_median_s"] = round(m["seconds"], 2)
        summary[f"{who}_outside_training_median_s"] = round(m["outside_training_s"], 2)
    summary["accuracy"] = {who: [r["accuracy"] for r in rs] for who, rs in rows.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
