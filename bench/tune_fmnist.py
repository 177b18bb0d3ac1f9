"""Choosing hyperparameters on Fashion-MNIST, each result against its baseline measured in the same run.

- ``tune``: the default recipe (``fast``: fastcnn, 3 epochs) on a 10 % validation split, against a study of
  ``--trials`` trials of the same recipe and split (lr, width, label smoothing, weight decay searched; at most 3
  epochs each; ``--workers`` worker processes of 1 thread each), once with the median pruner and once without:
  the best validation accuracy found, each study's wall time, and the test accuracy of the best configuration
  retrained on all training rows (``divekit train --from-study``) against the recipe's own.
- ``lrfind``: ``divekit lr-find`` on LeNet with the plain recipe's SGD and on the default net; then the test
  accuracy of a run at the suggested rate against one at the recipe's rate.

Prints one JSON line per measurement. Usage:
    python bench/tune_fmnist.py [tune|lrfind|all] [--trials 24] [--workers 2] [--threads N] [--keep DIR]

On a shared machine whose other jobs keep its cores busy, ``--threads 1`` avoids the collapse of multi-threaded
training under oversubscription (every thread waits for the slowest at each operation).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = ["lr=log:0.03..1", "width=0.5,0.75,1", "label_smoothing=float:0..0.2", "weight_decay=log:1e-5..2e-3"]


THREADS: list[str] = []  # --threads N for every command but the studies (whose workers share the cores)


def divekit(*args: str, cwd: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    extra = THREADS if args[0] in ("train", "lr-find") and "--threads" not in args else []
    out = subprocess.run([sys.executable, "-m", "divekit", *args, *extra], capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"divekit {' '.join(args)} failed ({out.returncode}):\n"
                         f"{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return seconds, out.stdout


def final(cwd: str, name: str) -> dict:
    return json.loads((Path(cwd) / "runs" / name / "summary.json").read_text())["final"]


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def study_numbers(folder: Path) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from divekit.tuning.storage import open_storage

    study = optuna.load_study(study_name=folder.name, storage=open_storage(folder, None))
    states = [t.state.name for t in study.trials]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: t.value)
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    return {"best_valid_acc": best.value, "best_params": best.params, "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"), "failed": states.count("FAIL"), "epochs_trained": epochs}


def bench_tune(cwd: str, trials: int, workers: int) -> None:
    seconds, _ = divekit("train", "--valid-fraction", "0.1", "--threads", "1", "--name", "recipe-valid", cwd=cwd)
    emit(bench="tune", what="recipe on the validation split", seconds=round(seconds, 2),
         valid_acc=final(cwd, "recipe-valid")["valid_acc"])
    for pruner in ("median", "none"):
        name = f"fastcnn-{pruner}"
        params = [a for p in SPACE for a in ("--param", p)]
        seconds, _ = divekit("tune", "--valid-fraction", "0.1", *params, "--trials", str(trials), "--workers",
                             str(workers), "--pruner", pruner, "--study", name, cwd=cwd)
        emit(bench="tune", what=f"study, pruner {pruner}", seconds=round(seconds, 2), trials=trials,
             workers=workers, **study_numbers(Path(cwd) / "studies" / name))
    seconds, _ = divekit("train", "--from-study", "studies/fastcnn-median", "--name", "from-study", cwd=cwd)
    emit(bench="tune", what="best of the pruned study retrained on all rows", seconds=round(seconds, 2),
         test_acc=final(cwd, "from-study")["test_acc"])
    seconds, _ = divekit("train", "--name", "recipe-all", cwd=cwd)
    emit(bench="tune", what="recipe trained on all rows", seconds=round(seconds, 2),
         test_acc=final(cwd, "recipe-all")["test_acc"])


def bench_lrfind(cwd: str) -> None:
    for label, model_args, recipe_lr in (("lenet, plain recipe (SGD)", ["--model", "lenet"], 0.1),
                                         ("default net, fast recipe (Muon, one-cycle)", [], 0.2)):
        seconds, out = divekit("lr-find", *model_args, "--out", f"lr-find-{len(model_args)}.png", cwd=cwd)
        suggestion = float(re.search(r"suggested lr: (\S+)", out).group(1))
        usable = re.search(r"usable range: (\S+) … (\S+)", out).groups()
        emit(bench="lrfind", what=label, seconds=round(seconds, 2), suggestion=suggestion, usable=usable)
        for tag, lr in (("suggested", suggestion), ("recipe", recipe_lr)):
            name = f"lr-{tag}-{len(model_args)}"
            seconds, _ = divekit("train", *model_args, "--lr", f"{lr:g}", "--name", name, cwd=cwd)
            emit(bench="lrfind", what=f"{label}: train at the {tag} rate", lr=lr, seconds=round(seconds, 2),
                 test_acc=final(cwd, name)["test_acc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="?", default="all", choices=("tune", "lrfind", "all"))
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="work in this folder (kept) instead of a temporary one")
    parser.add_argument("--threads", type=int, help="threads of each train and lr-find command (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        THREADS.extend(["--threads", str(args.threads)])
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = args.keep or tmp
        Path(cwd).mkdir(parents=True, exist_ok=True)
        emit(bench="machine", load=os.getloadavg(), date=time.strftime("%Y-%m-%d"))
        if args.which in ("tune", "all"):
            bench_tune(cwd, args.trials, args.workers)
        if args.which in ("lrfind", "all"):
            bench_lrfind(cwd)
        emit(bench="machine", load_after=os.getloadavg())


if __name__ == "__main__":
    main()
