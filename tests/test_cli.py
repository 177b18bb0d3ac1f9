"""The CLI end to end, in subprocesses, on the bundled sample."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest


def divekit(*args, cwd=None, env=None):
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "divekit", *args], capture_output=True, text=True, cwd=cwd, env=e)


def test_help_lists_commands_without_importing_torch():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "divekit", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    for cmd in ("train", "eval", "predict", "models", "datasets"):
        assert cmd in out.stdout
    assert "torch" not in {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines()}


def test_models_and_datasets_lists():
    out = divekit("models")
    assert out.returncode == 0 and "fastcnn" in out.stdout and "lenet" in out.stdout
    out = divekit("datasets")
    assert out.returncode == 0 and "fashion-mnist-mini" in out.stdout


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    out = divekit("train", "--data", "fashion-mnist-mini", "--epochs", "2", "--runs-dir", str(runs), "--name", "r",
                  "--threads", "1")
    assert out.returncode == 0, out.stderr
    return runs / "r", out


def test_train_prints_one_plain_line_per_epoch_when_not_a_terminal(trained_run):
    run_dir, out = trained_run
    epoch_lines = [line for line in out.stderr.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and "\r" not in out.stderr
    assert "test accuracy" in out.stdout


def test_eval_and_predict_keep_the_test_order(trained_run, tmp_path):
    run_dir, _ = trained_run
    ev = divekit("eval", str(run_dir))
    assert ev.returncode == 0 and "test accuracy" in ev.stdout
    target = tmp_path / "p.csv"
    pr = divekit("predict", str(run_dir), "--out", str(target))
    assert pr.returncode == 0, pr.stderr
    rows = list(csv.DictReader(target.open()))
    from divekit.data.images import load_dataset

    truth = load_dataset("fashion-mnist-mini", "test").labels.tolist()
    assert [int(r["index"]) for r in rows] == list(range(len(truth)))
    assert [int(r["true_label"]) for r in rows] == truth
    acc = sum(int(r["label"]) == t for r, t in zip(rows, truth, strict=True)) / len(truth)
    eval_acc = float(ev.stdout.split("test accuracy")[1].split()[0])
    assert abs(acc - eval_acc) < 1e-9


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    out = divekit("train", "--data", "./missing-dir", "--runs-dir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert str(Path(tmp_path, "missing-dir")) in out.stderr
    out = divekit("train", "--data", "fashion-mnist-mini", "--lr", "-1", "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "--lr" in out.stderr
    out = divekit("eval", "nope", "--runs-dir", str(tmp_path))
    assert out.returncode == 2 and "run 'nope' not found" in out.stderr
    out = divekit("train", "--data", "fashion-mnist-mini", "--device", "cuda", "--runs-dir", str(tmp_path))
    if out.returncode == 2:  # only on a machine without a GPU
        assert "no CUDA GPU" in out.stderr


def test_defaults_resolve_to_the_fast_recipe_on_fashion_mnist():
    import argparse

    from divekit.cli.train import add_arguments
    from divekit.cli.train import config_from_args as training_config

    p = argparse.ArgumentParser()
    add_arguments(p)
    config = training_config(p.parse_args([]))
    assert config.data == "fashion-mnist" and config.model == "fastcnn" and config.augment_flip
    assert (config.opt, config.epochs, config.lr, config.test_every) == ("muon", 3, 0.2, 0)
    plain = training_config(p.parse_args(["--model", "lenet", "--data", "mnist"]))
    assert plain.schedule == "constant" and not plain.augment_flip and plain.epochs == 10 and plain.opt == "sgd"
    assert training_config(p.parse_args(["--opt", "sgd"])).opt == "sgd"  # a flag beats the recipe


def test_every_recipe_is_a_complete_configuration():
    """A recipe spells out every training setting (the machine's own — data_dir, device, threads — excepted), so
    what a run does is read in one place."""
    import dataclasses

    from divekit.training.config import TrainConfig
    from divekit.training.recipes import ENVIRONMENT, RECIPES, VARIANTS

    fields = {f.name for f in dataclasses.fields(TrainConfig)} - set(ENVIRONMENT) - {"recipe"}
    for name, recipe in RECIPES.items():
        assert set(recipe) == fields, (name, sorted(fields ^ set(recipe)))
        assert TrainConfig(**recipe).model == recipe["model"]
    assert all(v in RECIPES for variants in VARIANTS.values() for v in variants.values())


def test_list_positionals_take_values_after_options_too(capsys):
    """``divekit predict RUN --out p.csv *.jpg`` and ``divekit report RUN --out c.html RUN2``: the values after an
    option join the command's list, as a shell glob at the end gives them; a stray word elsewhere is refused."""
    from divekit.cli import build_parser, parse

    parser = build_parser()
    args = parse(parser, ["predict", "runs/r", "a.png", "--out", "p.csv", "b.png", "c/"])
    assert (args.run, args.images, args.out) == ("runs/r", ["a.png", "b.png", "c/"], "p.csv")
    args = parse(parser, ["report", "runs/a", "--out", "c.html", "runs/b"])
    assert args.runs == ["runs/a", "runs/b"]
    for argv in (["eval", "runs/r", "--device", "cpu", "extra"], ["predict", "runs/r", "--out", "p.csv", "--bogus"]):
        with pytest.raises(SystemExit):
            parse(parser, argv)
        assert "unrecognized arguments: " in capsys.readouterr().err
