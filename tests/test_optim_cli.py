"""``divekit optim …``: printed numbers, PNG figures and results.json in the run directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from divekit.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv):
    rc = main(["optim", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_png(path: Path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 10_000


def test_gd1d_with_lr_1_1_diverges(tmp_path, capsys):
    rc, out, _ = _run(capsys, "gd1d", "--lr", "1.1", "--runs-dir", str(tmp_path))
    assert rc == 0
    assert "61.917364" in out and "diverged" in out
    _assert_png(tmp_path / "optim-gd1d" / "gd1d.png")
    results = json.loads((tmp_path / "optim-gd1d" / "results.json").read_text())["results"]
    assert results["1.1"]["verdict"].startswith("diverged")


def test_gd1d_default_shows_all_three_behaviours(tmp_path, capsys):
    rc, out, _ = _run(capsys, "gd1d", "--runs-dir", str(tmp_path))
    assert rc == 0
    assert "converged" in out and "slow progress" in out and "diverged" in out


def test_gd2d_prints_the_books_end_point(tmp_path, capsys):
    rc, out, _ = _run(capsys, "gd2d", "--runs-dir", str(tmp_path))
    assert rc == 0
    assert "x1: -0.057646, x2: -0.000073" in out
    _assert_png(tmp_path / "optim-gd2d" / "gd2d.png")


def test_momentum_prints_the_books_end_point(tmp_path, capsys):
    rc, out, _ = _run(capsys, "momentum", "--runs-dir", str(tmp_path))
    assert rc == 0
    assert "x1: 0.007188, x2: 0.002553" in out
    results = json.loads((tmp_path / "optim-momentum" / "results.json").read_text())["results"]
    assert results["max_abs_diff"] < 1e-9


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adadelta", "adam"])
def test_adaptive_2d_commands_save_a_figure(tmp_path, capsys, name):
    rc, out, _ = _run(capsys, name, "--runs-dir", str(tmp_path))
    assert rc == 0 and "torch.optim" in out
    _assert_png(tmp_path / f"optim-{name}" / f"{name}.png")


def test_hyperparameter_options_reach_the_run(tmp_path, capsys):
    rc, out, _ = _run(capsys, "momentum", "--lr", "0.4", "--beta", "0.25", "--steps", "5",
                      "--objective", "standard", "--runs-dir", str(tmp_path))
    assert rc == 0 and "lr=0.4, momentum=0.25" in out and "epoch 5" in out and "x1² + 2·x2²" in out


def test_newton_sgd_convexity(tmp_path, capsys):
    rc, out, _ = _run(capsys, "newton", "--runs-dir", str(tmp_path))
    assert rc == 0 and "x: 26.834133" in out and "wrong way" in out and "x: 7.269860" in out
    _assert_png(tmp_path / "optim-newton" / "newton.png")
    rc, out, _ = _run(capsys, "sgd", "--schedule", "polynomial", "--runs-dir", str(tmp_path))
    assert rc == 0 and "polynomial learning rate" in out
    _assert_png(tmp_path / "optim-sgd" / "sgd.png")
    rc, out, _ = _run(capsys, "convexity", "--samples", "2000", "--runs-dir", str(tmp_path))
    assert rc == 0 and "saddle point at x = 0.0000" in out and "not convex" in out
    _assert_png(tmp_path / "optim-convexity" / "convexity.png")
    _assert_png(tmp_path / "optim-convexity" / "critical_points.png")


def test_each_run_gets_a_fresh_directory(tmp_path, capsys):
    for _ in range(2):
        assert _run(capsys, "gd1d", "--lr", "0.2", "--runs-dir", str(tmp_path))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optim-gd1d", "optim-gd1d-2"]


def test_compare_on_missing_data_is_a_clear_error(tmp_path, capsys):
    rc, _, err = _run(capsys, "compare", "--data", "airfoil", "--data-dir", str(tmp_path / "nowhere"),
                      "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2
    assert err.startswith("error: airfoil data not found")
    assert str((tmp_path / "nowhere" / "d2l-misc" / "airfoil_self_noise.dat").resolve()) in err


def test_compare_on_airfoil(tmp_path, capsys):
    root = Path(os.environ.get("DIVEKIT_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets")
    if not (root / "d2l-misc" / "airfoil_self_noise.dat").is_file():
        pytest.skip(f"airfoil data not found under {root} (set DIVEKIT_DATA)")
    rc, out, _ = _run(capsys, "compare", "--data", "airfoil", "--data-dir", str(root),
                      "--runs-dir", str(tmp_path))
    assert rc == 0 and "1503 rows" in out and "adam" in out
    run = tmp_path / "optim-compare"
    _assert_png(run / "compare.png")
    results = json.loads((run / "results.json").read_text())["results"]
    assert len(results) == 9
    for label, r in results.items():
        assert r["lab"]["losses"][-1] < 0.26 and r["torch"]["losses"][-1] < 0.26, label


def test_bad_arguments_and_no_experiment(capsys):
    with pytest.raises(SystemExit) as e:
        main(["optim", "gd1d", "--lr", "-1"])
    assert e.value.code == 2 and "argument --lr: expected a finite number > 0, got '-1'" in capsys.readouterr().err
    assert main(["optim"]) == 0
    assert "gd1d" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["gd1d", "--x0", "nan"], "--x0"),
        (["gd1d", "--x0", "inf"], "--x0"),
        (["gd1d", "--lr", "0.2", "nan"], "--lr"),
        (["gd1d", "--lr", "1e999"], "--lr"),
        (["gd1d", "--steps", "0"], "--steps"),
        (["gd1d", "--steps", "99999999999999999999"], "--steps"),
        (["gd2d", "--lr", "0"], "--lr"),
        (["momentum", "--beta", "1"], "--momentum/--beta"),
        (["momentum", "--momentum", "-0.1"], "--momentum/--beta"),
        (["adagrad", "--eps", "0"], "--eps"),
        (["rmsprop", "--gamma", "1.5"], "--gamma"),
        (["rmsprop", "--eps", "inf"], "--eps"),
        (["adadelta", "--rho", "2"], "--rho"),
        (["adam", "--beta1", "1.5"], "--beta1"),
        (["adam", "--beta2", "1"], "--beta2"),
        (["adam", "--steps", "-5"], "--steps"),
        (["sgd", "--noise", "-1"], "--noise"),
        (["sgd", "--noise", "nan"], "--noise"),
        (["sgd", "--seed", "-1"], "--seed"),
        (["sgd", "--seed", str(2**63)], "--seed"),
        (["newton", "--x0", "0"], "--x0"),
        (["newton", "--x0", "1e308"], "--x0"),
        (["newton", "--damped-eta", "1.5"], "--damped-eta"),
        (["convexity", "--samples", "0"], "--samples"),
        (["convexity", "--seed", "99999999999999999999"], "--seed"),
        (["compare", "--seed", "1.5"], "--seed"),
    ],
)
def test_bad_values_name_the_argument_and_create_no_run_directory(tmp_path, capsys, argv, argument):
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as e:
        main(["optim", *argv, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert f"error: argument {argument}: expected " in err and "Traceback" not in err
    assert not runs.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("folder", "cannot read"),
        ("1\t2\t3\t4\t5\t6\n" * 3, "expected at least 1500 rows"),
        ("1,2,3\n", "expected tab-separated numbers"),
    ],
)
def test_bad_compare_data_names_the_file_and_creates_no_run_directory(tmp_path, capsys, content, expected):
    data = tmp_path / "airfoil.dat"
    if content == "folder":
        data.mkdir()
    elif content is not None:
        data.write_text(content)
    rc, _, err = _run(capsys, "compare", "--data", str(data), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2 and err.startswith(f"error: {data.resolve()}: {expected}")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["gd1d", "--lr", "1e308"],  # the step overflows to inf: the curve is still drawn
        ["gd1d", "--lr", "10", "--steps", "300"],  # x grows past the float range
        ["gd1d", "--x0", "1e200", "--lr", "0.2"],  # x**2 of a Python float raises OverflowError
    ],
)
def test_gd1d_that_overflows_reports_divergence(tmp_path, capsys, argv):
    rc, out, _ = _run(capsys, *argv, "--runs-dir", str(tmp_path))
    assert rc == 0 and ("diverged" in out or "converged" in out)
    _assert_png(tmp_path / "optim-gd1d" / "gd1d.png")


def test_sgd_with_huge_noise_still_draws_its_figure(tmp_path, capsys):
    # points near 1e306 once made Agg hang drawing the dashed torch.optim line
    rc, out, _ = _run(capsys, "sgd", "--noise", "1e308", "--schedule", "constant", "--runs-dir", str(tmp_path))
    assert rc == 0 and "x1: nan" in out
    _assert_png(tmp_path / "optim-sgd" / "sgd.png")


def test_newton_start_points_at_the_edge_of_the_valid_range(tmp_path, capsys):
    from divekit.optlab.experiments import newton_undefined_at

    assert newton_undefined_at(1420.0) is None and newton_undefined_at(-1e-300) is None
    assert "f''(x) != 0" in newton_undefined_at(0.0) and "|x0| < 1420.95" in newton_undefined_at(-1421.0)
    with pytest.raises(SystemExit):
        main(["optim", "newton", "--x0", "0", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "argument --x0: expected a point where f''(x) != 0, got 0" in err and "undefined" in err


def test_debug_is_accepted_after_the_experiment(tmp_path, capsys):
    rc, _, _ = _run(capsys, "gd1d", "--lr", "0.2", "--steps", "2", "--debug", "--runs-dir", str(tmp_path))
    assert rc == 0
    from divekit.errors import DataError

    with pytest.raises(DataError):  # --debug shows the exception instead of the one-line message
        main(["optim", "compare", "--data", str(tmp_path / "missing.dat"), "--debug"])


def test_cli_module_does_not_import_torch_or_matplotlib():
    code = "import sys, divekit.cli.optim; print(any(m in sys.modules for m in ('torch', 'matplotlib')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
