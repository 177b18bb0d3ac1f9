"""Small synthetic datasets that a model can learn in seconds: an IMDb-style archive and a regression CSV."""

from __future__ import annotations

import csv
import io
import random
import tarfile
from pathlib import Path

import numpy as np
import torch

GOOD = ["great", "wonderful", "loved", "superb", "brilliant"]
BAD = ["awful", "boring", "hated", "terrible", "dull"]
FILLER = ["the", "movie", "film", "was", "a", "plot", "actor", "and", "it", "scene"]


def review(rng: random.Random, words: list[str]) -> str:
    body = [rng.choice(FILLER) for _ in range(rng.randint(4, 30))]
    for _ in range(3):
        body.insert(rng.randrange(len(body) + 1), rng.choice(words))
    return " ".join(body).capitalize() + ("!" if rng.random() < 0.5 else ".") + "<br />"


def imdb_folder(root: Path, train_per_class: int = 60, test_per_class: int = 30) -> Path:
    """``root/aclImdb/aclImdb_train_test.tar.gz`` (the shared-data layout) and a tiny GloVe file
    ``root/glove8.txt`` (8 dimensions); returns ``root``."""
    (root / "aclImdb").mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    with tarfile.open(root / "aclImdb" / "aclImdb_train_test.tar.gz", "w:gz") as tar:
        for split, n in (("train", train_per_class), ("test", test_per_class)):
            for label, words in (("pos", GOOD), ("neg", BAD)):
                for i in range(n):
                    data = review(rng, words).encode("utf-8")
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    gen = torch.Generator().manual_seed(0)
    lines = [f"{w} " + " ".join(f"{v:.4f}" for v in torch.randn(8, generator=gen).tolist())
             for w in GOOD[:3] + BAD[:3] + FILLER + ["!", "."]]
    (root / "glove8.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def regression_csvs(folder: Path, n: int = 200, seed: int = 0, labelled_test: bool = False) -> tuple[Path, Path]:
    """``train.csv`` and ``test.csv`` with y = 50 + 10·a - 5·b + (8 if kind == 'x'), a missing value and a
    test-only category (the test file has the y column only when ``labelled_test``)."""
    rng = np.random.default_rng(seed)
    paths = []
    for name, rows, start in (("train", n, 0), ("test", 20, 10_000)):
        path = folder / f"{name}.csv"
        with_y = name == "train" or labelled_test
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "a", "b", "kind"] + (["y"] if with_y else []))
            for i in range(rows):
                a, b = rng.normal(), rng.normal()
                kind = "x" if i % 2 else "z"
                if name == "test" and i == 3:
                    kind = "never-seen"
                y = 50 + 10 * a - 5 * b + (8 if kind == "x" else 0)
                target = [f"{y:.6f}"] if with_y else []
                w.writerow([start + i, "" if i == 5 else f"{a:.6f}", f"{b:.6f}", kind, *target])
        paths.append(path)
    return paths[0], paths[1]
