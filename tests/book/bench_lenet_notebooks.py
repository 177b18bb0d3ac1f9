"""The LeNet notebook of each edition at full length, in a Jupyter kernel, on the book's own package and on divekit.

Usage::

    python tests/book/bench_lenet_notebooks.py --book-python BOOKENV/bin/python \\
        --zh-package DIR_WITH_d2l_0.17.6 --en-package DIR_WITH_d2l_1.0.3 [--repeat N] [--json FILE]

Both arms run in the same kernel set-up: the kernel is ``--book-python`` (torch and torchvision installed there)
and the notebook runs through ``run_notebooks.py``; the book's arm keeps ``from d2l import torch as d2l`` with the
edition's package first on ``PYTHONPATH`` (``pip install --no-deps --target DIR d2l==…``), divekit's arm changes
only that line. Arms alternate, book first, ``--repeat`` times. The accuracy compared is the zh notebook's printed
``test acc`` and, for en, the last validation accuracy on the notebook's ``ProgressBoard``. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run_notebooks.py"
NOTEBOOKS = HERE.parents[2] / "shared" / "book-notebooks"
LENET = {"zh": NOTEBOOKS / "zh-2.0.0" / "chapter_convolutional-neural-networks__lenet.ipynb",
         "en": NOTEBOOKS / "en-1.0.3" / "chapter_convolutional-neural-networks__lenet.ipynb"}
# the last validation accuracy the en notebook's board shows (both packages keep board.data)
EN_ACC = "print('VAL_ACC', float(model.board.data['val_acc'][-1].y))"


def accuracy(edition: str, tail: str) -> float | None:
    pattern = r"test acc ([\d.]+)" if edition == "zh" else r"VAL_ACC ([\d.]+)"
    found = re.findall(pattern, tail)
    return float(found[-1]) if found else None


def run_arm(python: str, edition: str, book: bool, package: str) -> dict:
    """One execution of the edition's LeNet notebook; returns the runner's result plus ``accuracy``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python, str(RUNNER), "--notebooks", str(LENET[edition].parent), LENET[edition].stem, "--json", str(out)]
        cmd += ["--book"] if book else []
        cmd += ["--append", EN_ACC] if edition == "en" else []
        env = dict(os.environ, PYTHONPATH=package if book else "")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if not out.is_file():
            raise SystemExit(f"runner failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        result = json.loads(out.read_text())[LENET[edition].stem]
    result["accuracy"] = accuracy(edition, result.get("tail", ""))
    speed = re.findall(r"([\d.]+) examples/sec", result.get("tail", ""))
    result["examples_per_sec"] = float(speed[-1]) if speed else None
    result.pop("tail", None)
    return result


def machine() -> dict:
    """CPU model, cores and native bf16 support, from lscpu."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", lscpu)
    flags = re.search(r"Flags:\s*(.+)", lscpu)
    flag_set = set(flags.group(1).split()) if flags else set()
    return {"cpu": model.group(1).strip() if model else platform.processor(), "cores": os.cpu_count(),
            "bf16": sorted(flag_set & {"avx512_bf16", "amx_bf16", "amx_tile"}),
            "date": time.strftime("%Y-%m-%d"), "load_before": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book-python", required=True, help="interpreter with torch, torchvision, nbclient")
    parser.add_argument("--zh-package", required=True, help="folder holding d2l 0.17.6 (pip install --target)")
    parser.add_argument("--en-package", required=True, help="folder holding d2l 1.0.3 (pip install --target)")
    parser.add_argument("--editions", nargs="+", default=["zh", "en"], choices=["zh", "en"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    report = {"machine": machine(), "runs": {}}
    for edition in args.editions:
        package = args.zh_package if edition == "zh" else args.en_package
        runs = {"book": [], "divekit": []}
        for _ in range(args.repeat):
            for arm in ("book", "divekit"):
                runs[arm].append(run_arm(args.book_python, edition, arm == "book", package))
                print(edition, arm, json.dumps(runs[arm][-1]), file=sys.stderr, flush=True)
        best = {arm: min(r["seconds"] for r in rs) for arm, rs in runs.items()}
        report["runs"][edition] = {**runs, "ratio_best": best["book"] / best["divekit"]}
    report["machine"]["load_after"] = os.getloadavg()[0]
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
