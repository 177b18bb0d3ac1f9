"""``divekit scratch``: the lesson list, each lesson's run directory, and no torch import at top level."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from divekit.cli import main
from divekit.scratch.lessons import LESSONS

DATA_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def test_cli_module_does_not_import_torch():
    code = "import sys, divekit.cli.scratch, divekit.scratch.lessons; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_lesson_lists_them_all(capsys):
    assert main(["scratch"]) == 0
    out = capsys.readouterr().out
    for name in ["linreg", "softmax", "mlp", "dropout", "batchnorm", "conv", "rnn", "init", "optimizers"]:
        assert f"  {name} " in out
    assert set(LESSONS) == {
        "linreg",
        "softmax",
        "mlp",
        "dropout",
        "batchnorm",
        "conv",
        "rnn",
        "init",
        "optimizers",
        "overfit",
    }


def test_unknown_lesson_and_bad_epochs_are_rejected(capsys):
    with pytest.raises(SystemExit) as e:
        main(["scratch", "transformer"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["scratch", "linreg", "--epochs", "0"])
    assert "argument --epochs: expected an integer from 1 to 10000, got '0'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--seed", "-1"),
        ("--seed", str(2**63)),  # torch.manual_seed: "Overflow when unpacking long long"
        ("--seed", "99999999999999999999"),
        ("--seed", "1.5"),
        ("--seed", "nan"),
        ("--epochs", "-3"),
        ("--epochs", "1e3"),
        ("--epochs", "99999999999999999999"),  # would run for ever
        ("--seed", str(2**32)),
    ],
)
def test_bad_values_name_the_argument_and_create_no_run_directory(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as e:
        main(["scratch", "linreg", option, value, "--runs-dir", str(tmp_path / "runs")])
    assert e.value.code == 2
    assert f"error: argument {option}: expected an integer" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_largest_seed_is_accepted():
    from divekit.cli import build_parser

    args = build_parser().parse_args(["scratch", "linreg", "--seed", str(2**32 - 1), "--debug"])
    assert args.seed == 2**32 - 1 and args.debug


def _run(lesson, tmp_path, capsys, *extra):
    assert main(["scratch", lesson, "--runs-dir", str(tmp_path), "--seed", "1", *extra]) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / f"scratch-{lesson}"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["lesson"] == lesson and summary["seed"] == 1
    return out, run_dir, summary


def test_linreg_lesson_prints_losses_and_parameters(tmp_path, capsys):
    out, run_dir, summary = _run("linreg", tmp_path, capsys)
    assert "epoch 3, loss" in out and "error in estimating b" in out
    assert (run_dir / "linreg.png").stat().st_size > 1000
    assert summary["scratch"]["losses"][-1] < 2e-4
    assert abs(summary["concise"]["b"] - 4.2) < 0.01
    _run("linreg", tmp_path, capsys)  # a second run gets a fresh directory
    assert (tmp_path / "scratch-linreg-2" / "summary.json").is_file()


@pytest.mark.parametrize(
    ("lesson", "figure", "text"),
    [
        ("conv", "edge-detection.png", "learned kernel"),
        ("rnn", "lstm-sine.png", "lstm batch_first=True"),
        ("init", "init-variance.png", "symmetry is never broken"),
        ("optimizers", "optimizers.png", "adamw"),
    ],
)
def test_quick_lessons_run(lesson, figure, text, tmp_path, capsys):
    out, run_dir, summary = _run(lesson, tmp_path, capsys, "--epochs", "1")
    assert text in out
    assert (run_dir / figure).stat().st_size > 1000
    if "vs_torch" in summary:
        assert max(summary["vs_torch"].values()) < 1e-10
    if lesson == "optimizers":
        assert all(r["max_diff_vs_torch"] < 1e-10 for r in summary["results"].values())


@pytest.fixture
def fashion_data(monkeypatch):
    if not os.environ.get("DIVEKIT_DATA"):
        monkeypatch.setenv("DIVEKIT_DATA", str(DATA_DEFAULT))
    if not (Path(os.environ["DIVEKIT_DATA"]) / "fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST not found under $DIVEKIT_DATA/fashion-mnist")


def test_softmax_lesson_one_epoch(fashion_data, tmp_path, capsys):
    out, run_dir, summary = _run("softmax", tmp_path, capsys, "--epochs", "1")
    assert "naive softmax" in out and "nan" in out and "test acc" in out
    assert (run_dir / "softmax.png").is_file() and (run_dir / "predictions.png").is_file()
    assert summary["test_acc"] > 0.7


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lesson", "figure"), [("mlp", "mlp.png"), ("dropout", "dropout.png"), ("batchnorm", "mlp-with-bn.png")]
)
def test_fashion_lessons_one_epoch(lesson, figure, fashion_data, tmp_path, capsys):
    out, run_dir, summary = _run(lesson, tmp_path, capsys, "--epochs", "1")
    assert (run_dir / figure).is_file() and "final test accuracy" in out


def test_missing_data_gives_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "divekit.data", None)  # force the built-in IDX reader
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "nowhere"))
    assert main(["scratch", "softmax", "--runs-dir", str(tmp_path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "train-images-idx3-ubyte.gz" in err and "not found" in err
