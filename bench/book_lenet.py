"""The book's LeNet chapter, unchanged, with the book's own ``d2l`` package and with ``divekit.d2l``, in one run.

Usage::

    python bench/book_lenet.py --book-python D2L_ENV/bin/python \\
        [--divekit-python PY ...] [--chapter FILE] [--epochs N] [--out FILE]

``--book-python`` is an interpreter with ``d2l==0.17.6`` (and torch/torchvision) installed, kept outside the
repository (see docs/benchmarks.md, "The book's LeNet chapter"). Each run executes the chapter file in a
subprocess, in a fresh temporary folder whose ``../data`` holds Fashion-MNIST laid out as torchvision expects
(from ``$DIVEKIT_DATA/fashion-mnist``); the only difference is the import line (``from d2l import torch as d2l`` for
the book, ``from divekit import d2l`` for divekit). ``--divekit-python`` may be repeated (default: this
interpreter); passing the book's interpreter too compares on the very same torch build. ``--epochs`` rewrites
the chapter's ``num_epochs`` (a smoke run; the benchmark keeps the chapter's 10). Prints JSON: wall seconds,
the chapter's printed loss/accuracies and examples/sec for each run, the ratio book / divekit and the
accuracy difference, plus the load average before and after.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "book"))

from run_chapters import stage_book_data  # noqa: E402

DIVEKIT_IMPORT = "from divekit import d2l"
BOOK_IMPORT = "from d2l import torch as d2l"
_RESULT = re.compile(r"^loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)$", re.M)
_SPEED = re.compile(r"^([\d.]+) examples/sec on (\S+)$", re.M)


def chapter_source(path: Path, book: bool, epochs: int | None) -> str:
    """The chapter with the import line for ``book`` or divekit, and optionally another epoch count."""
    source = path.read_text()
    if DIVEKIT_IMPORT not in source:
        raise SystemExit(f"{path}: expected the line {DIVEKIT_IMPORT!r}")
    if book:
        source = source.replace(DIVEKIT_IMPORT, BOOK_IMPORT)
    if epochs is not None:
        source, n = re.subn(r"^lr, num_epochs = ([\d.]+), \d+$", rf"lr, num_epochs = \1, {epochs}", source,
                            flags=re.M)
        if n != 1:
            raise SystemExit(f"{path}: no 'lr, num_epochs = …' line to change")
    return source


def describe(python: str) -> str:
    """``torch <version>`` of an interpreter."""
    out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return f"torch {out.stdout.strip() or '?'}"


def run_once(python: str, source: str, data: Path, package: str) -> dict:
    """Run ``source`` with ``python`` in a fresh folder; wall seconds and the chapter's printed results."""
    python = os.path.abspath(python) if os.sep in python else python  # it runs in another folder
    with tempfile.TemporaryDirectory(prefix="book-lenet-") as tmp:
        root = Path(tmp)
        stage_book_data(root, data)
        work = root / "work"
        work.mkdir()
        (work / "lenet.py").write_text(source)
        env = dict(os.environ, MPLBACKEND="Agg", DIVEKIT_DATA=str(data), DIVEKIT_FIGURES=str(root / "figures"),
                   PYTHONPATH=str(REPO))
        env.pop("DIVEKIT_BOOK_SUBSET", None)
        start = time.perf_counter()
        proc = subprocess.run([python, "lenet.py"], cwd=work, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    result, speed = _RESULT.search(proc.stdout), _SPEED.search(proc.stdout)
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"{package} run failed (rc={proc.returncode}):\n{out[-3000:]}")
    run = {"package": package, "python": python, "version": describe(python), "seconds": round(seconds, 2),
           "loss": float(result.group(1)), "train_acc": float(result.group(2)), "test_acc": float(result.group(3)),
           "examples_per_sec": float(speed.group(1)) if speed else None, "loadavg_after": os.getloadavg()[0]}
    print(json.dumps(run), file=sys.stderr, flush=True)  # partial results survive a later failure
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book-python", required=True, help="interpreter with d2l==0.17.6 installed")
    parser.add_argument("--divekit-python", action="append", help="interpreter(s) for divekit (repeatable)")
    parser.add_argument("--chapter", default=str(REPO.parent / "shared" / "d2l-chapters" /
                                                 "convolutional-neural-networks__lenet.py"))
    parser.add_argument("--epochs", type=int, help="override the chapter's num_epochs (smoke runs only)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    data = Path(os.environ.get("DIVEKIT_DATA") or REPO.parent / "shared" / "datasets").resolve()
    if not (data / "fashion-mnist").is_dir():
        raise SystemExit(f"fashion-mnist not found under {data}: set DIVEKIT_DATA")
    chapter = Path(args.chapter)
    load_before = os.getloadavg()
    runs = [run_once(args.book_python, chapter_source(chapter, True, args.epochs), data, "d2l 0.17.6 (book)")]
    for python in args.divekit_python or [sys.executable]:
        runs.append(run_once(python, chapter_source(chapter, False, args.epochs), data, "divekit.d2l"))
    book, divekit = runs[0], runs[1]
    report = {"chapter": chapter.stem, "epochs": args.epochs or 10, "runs": runs,
              "ratio_book_over_divekit": round(book["seconds"] / divekit["seconds"], 2),
              "test_acc_diff": round(divekit["test_acc"] - book["test_acc"], 3),
              "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
