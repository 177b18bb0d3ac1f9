"""One pipeline for every kind of data: kill-and-resume, eval and predict work the same for image, tabular and
text runs (the image kind's longer kill tests are in test_resume.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from divekit import api
from divekit.cli import main
from tests.helpers.synthetic import imdb_folder, regression_csvs

REPO = Path(__file__).resolve().parents[1]
KILLABLE = REPO / "tests" / "helpers" / "killable.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    imdb_folder(root)
    regression_csvs(root, labelled_test=True)
    return root


def args_for(kind: str, data: Path) -> list[str]:
    if kind == "tabular":  # 160 training rows / 16 = 10 steps an epoch
        return ["--data", str(data / "train.csv"), "--target", "y", "--id-column", "id", "--test-csv",
                str(data / "test.csv"), "--epochs", "40", "--batch-size", "16", "--lr", "0.5", "--valid-fraction",
                "0.2", "--threads", "1", "--seed", "5"]
    # 120 reviews / 16 = 8 steps an epoch
    return ["--data", "imdb", "--data-dir", str(data), "--model", "textcnn", "--epochs", "3", "--batch-size", "16",
            "--threads", "1", "--seed", "5"]


def train(runs: Path, *args: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    points = ["--kill-at-step", str(kill_at)] if kill_at else []
    cmd = [sys.executable, str(KILLABLE), *points, "--", "train", "--runs-dir", str(runs), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                               "MPLBACKEND": "Agg"})


@pytest.mark.parametrize("kind, every, kill_at, last_checkpoint", [("tabular", 3, 17, 15), ("text", 5, 13, 10)])
def test_sigkill_then_resume_is_bitwise_identical(data, tmp_path, kind, every, kill_at, last_checkpoint):
    args = [*args_for(kind, data), "--checkpoint-every", str(every)]
    done = train(tmp_path, *args, "--name", "whole")
    assert done.returncode == 0, done.stderr[-2000:]
    cut = train(tmp_path, *args, "--name", "cut", kill_at=kill_at)
    assert cut.returncode == -signal.SIGKILL, cut.stderr[-2000:]
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = train(tmp_path, "--resume", str(tmp_path / "cut"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name in ("model.safetensors", "metrics.csv"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["resumed_at_steps"] == [last_checkpoint]


def test_eval_and_predict_on_a_tabular_run(data, tmp_path, capsys):
    assert main(["train", *args_for("tabular", data), "--runs-dir", str(tmp_path), "--name", "t"]) == 0
    run = api.load_run(tmp_path / "t")
    metrics = run.evaluate()
    assert metrics["split"] == "test" and metrics["examples"] == 20 and metrics["log_rmse"] < 0.5
    assert main(["eval", str(run.path)]) == 0
    assert "test log-RMSE" in capsys.readouterr().out
    assert main(["predict", str(run.path)]) == 0
    rows = (run.path / "predictions.csv").read_text().splitlines()
    assert rows[0] == "id,y" and len(rows) == 21


def test_eval_and_predict_on_a_text_run(data, tmp_path, capsys):
    assert main(["train", *args_for("text", data), "--runs-dir", str(tmp_path), "--name", "x"]) == 0
    run = api.load_run(tmp_path / "x")
    assert run.evaluate()["acc"] == run.final["test_acc"]  # the same number as at the end of training
    assert main(["predict", str(run.path), "--text", "great and wonderful", "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "input,class,probability,class_2,probability_2" and rows[1].split(",")[1] in ("neg", "pos")


def test_eval_and_predict_on_an_image_run(tmp_path, capsys):
    run = api.train(data="fashion-mnist-mini", model="softmax", epochs=1, threads=1, runs_dir=tmp_path, name="i")
    assert run.evaluate()["acc"] == pytest.approx(run.final["test_acc"], abs=1e-12)
    assert main(["predict", str(run.path)]) == 0
    assert len((run.path / "predictions.csv").read_text().splitlines()) == 1 + 1000
    assert main(["eval", str(run.path)]) == 0
    assert f"test accuracy {run.final['test_acc']:.4f}" in capsys.readouterr().out


def test_data_of_one_class_is_refused_by_every_kind_and_command(tmp_path, capsys):
    """Image folders, IDX files, text folders and text CSVs whose training examples are all of one class: train,
    kfold and lr-find stop with one line naming the data and its class, and no run directory is made."""
    from PIL import Image

    from divekit.data.idx import write_idx
    from tests.helpers.imagefolders import fashion

    images, _, _ = fashion("train")
    (tmp_path / "photos" / "coat").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(images[i]).save(tmp_path / "photos" / "coat" / f"{i}.png")
    (tmp_path / "idx").mkdir()
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / "idx" / f"{prefix}-images-idx3-ubyte", images[:8])
        write_idx(tmp_path / "idx" / f"{prefix}-labels-idx1-ubyte", np.full(8, 3, np.uint8))
    (tmp_path / "texts" / "pos").mkdir(parents=True)
    for i in range(3):
        (tmp_path / "texts" / "pos" / f"{i}.txt").write_text("a fine film")
    (tmp_path / "reviews.csv").write_text("text,label\na fine film,pos\nmoving,pos\n")
    cases = [(["--data", str(tmp_path / "photos")], "all 4 training examples are of one class (coat)"),
             (["--data", str(tmp_path / "idx")], "all 8 training examples are of one class (3)"),
             (["--data", str(tmp_path / "texts")], "all 3 training examples are of one class (pos)"),
             (["--data", str(tmp_path / "reviews.csv"), "--text-column", "text"],
              "all 2 training examples are of one class (pos)")]
    for data, words in cases:
        for command in ("train", "kfold", "lr-find"):
            assert main([command, *data, "--runs-dir", str(tmp_path / "runs")]) == 2, (command, data)
            err = capsys.readouterr().err.strip().splitlines()[-1]  # after a folder's "decoding …" line
            assert err == f"error: {data[1]}: {words}; a classifier needs examples of two or more classes", err
    assert not (tmp_path / "runs").exists()
