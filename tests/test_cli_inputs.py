"""Bad input to train/eval/predict answers with one clear line, before anything is written."""

from __future__ import annotations

import argparse
import re

import pytest
import torch

from divekit.cli import build_parser, main
from divekit.data.split import train_valid_split
from divekit.errors import ConfigError, DataError
from divekit.models.registry import build_model
from divekit.training.config import TrainConfig
from divekit.training.rundir import write_config


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: "), err
    return err


def test_an_unchecked_exception_is_one_line_with_the_way_to_the_traceback(monkeypatch, capsys):
    import divekit.cli.models as models_cli

    def broken(args):
        raise ValueError("something no check caught")

    monkeypatch.setattr(models_cli, "run", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected ValueError: something no check caught")
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="no check caught"):
        main(["--debug", "models"])


@pytest.mark.parametrize(("settings", "message"), [
    ({"lr": 1e40}, "--lr: expected a number in (0, 1e+38], got 1e+40"),
    ({"weight_decay": 1e308}, "--weight-decay: expected a number in [0, 1e+38], got 1e+308"),
    ({"epochs": 10**7}, "--epochs: expected an integer from 1 to 10000, got 10000000"),
    ({"schedule": "step"}, "--schedule step needs --step-size N ≥ 1"),
    ({"test_every": -3}, "--test-every: expected an integer from 0 to 10000, got -3"),
])
def test_config_refuses_values_that_fail_or_mislead_later(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig(**settings).validate()
    fixed = {"lr": 1e38, "weight_decay": 0.0, "epochs": 2, "step_size": 5, "test_every": 0}
    TrainConfig(**{**settings, **fixed}).validate()


def test_an_unknown_device_names_the_choices():
    from divekit.training.device import resolve_device

    with pytest.raises(ConfigError, match="--device 'nonsense': expected auto, cpu, cuda or cuda:N"):
        resolve_device("nonsense")


def test_a_validation_fraction_that_leaves_a_part_empty_is_a_data_error():
    labels = torch.arange(10) % 2
    with pytest.raises(DataError, match="leaves 0 for training and 10 for validation"):
        train_valid_split(labels.float(), 0.9999, stratify=False)
    with pytest.raises(DataError, match="leaves 10 for training and 0 for validation"):
        train_valid_split(labels, 0.01)


@pytest.mark.parametrize(("options", "message"), [
    ({"hidden": 0}, "--hidden: expected an integer from 1 to 65536, got 0"),
    ({"dropout": 1.5}, r"--dropout: expected a number in \[0, 1\), got 1.5")])
def test_mlp_options_out_of_range_are_config_errors(options, message):
    for name in ("mlp", "tabular-mlp"):
        with pytest.raises(ConfigError, match=message):
            build_model(name, (8,), 1, **options)


def test_an_image_net_on_table_rows_is_refused_before_training():
    from divekit.training.tabular import check_takes_rows

    for name in ("lenet", "fastcnn"):
        with pytest.raises(ConfigError, match=f"--model {name} does not take table rows.*choose linear, tabular-mlp"):
            check_takes_rows(name, {})
    check_takes_rows("linear", {})
    check_takes_rows("mlp", {"hidden": [4]})


def test_width_must_be_positive(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "fashion-mnist-mini", "--width", "0", "--runs-dir", str(tmp_path)])
    assert e.value.code == 2
    assert "argument --width: expected a number in (0, 16], got '0'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_relative_data_paths_are_kept_absolute(tmp_path, monkeypatch):
    from divekit.cli.train import config_from_args

    (tmp_path / "my data").mkdir()
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["train", "--data", "my data", "--data-dir", ".", "--model", "mlp"])
    config = config_from_args(args)
    assert config.data == str(tmp_path / "my data") and config.data_dir == str(tmp_path)
    args = build_parser().parse_args(["train", "--data", "fashion-mnist-mini", "--model", "mlp"])
    assert config_from_args(args).data == "fashion-mnist-mini"  # a dataset name stays a name


def fake_run(tmp_path, name: str, data: str, kind: str | None = None, finished: bool = True):
    """A run directory with config.json (and, if ``finished``, a placeholder model.safetensors)."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    write_config(run_dir, TrainConfig(data=data), {"kind": kind} if kind else {})
    if finished:
        (run_dir / "model.safetensors").write_bytes(b"")
    return run_dir


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_eval_and_predict_refuse_a_kfold_run(tmp_path, capsys, command):
    run_dir = fake_run(tmp_path, "kf", "fashion-mnist-mini", "kfold")
    assert main([command, str(run_dir)]) == 2
    assert "is a k-fold run: it keeps each fold's metrics, not a model" in one_error_line(capsys)


@pytest.mark.parametrize(("data", "flag", "message"), [
    ("fashion-mnist-mini", ["--text", "great film"], "--text is for text runs; RUN is an image run"),
    ("fashion-mnist-mini", ["--test-csv", "t.csv"], "--test-csv is for tabular runs; RUN is an image run"),
    ("imdb", ["--test-csv", "t.csv"], "--test-csv is for tabular runs; RUN is a text run"),
    ("imdb", ["new.png"], "new.png: image files are predicted on by image runs; RUN is a text run"),
])
def test_predict_refuses_options_of_another_kind_of_run(tmp_path, capsys, data, flag, message):
    run_dir = fake_run(tmp_path, "r", data)
    assert main(["predict", str(run_dir), *flag]) == 2
    assert message.replace("RUN", str(run_dir)) in one_error_line(capsys)


def test_every_callback_knows_where_the_run_is_from_the_start(tmp_path):
    from divekit.training.run import train_run

    class Where:
        def on_train_start(self, state):
            self.run_dir = state.run_dir

    where = Where()
    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=1, threads=1, device="cpu")
    run_dir, _ = train_run(config, tmp_path, "r", callbacks=[where])
    assert where.run_dir == run_dir == tmp_path / "r"


def test_live_plot_redraws_at_most_every_interval_and_at_the_end(tmp_path, monkeypatch):
    from divekit.report.live import LivePlot

    live = LivePlot(tmp_path / "live.png", notebook=False, min_interval=3600)
    drawn = []
    monkeypatch.setattr(live, "_draw", lambda state, last: drawn.append((len(state.history), last)))
    state = argparse.Namespace(history=[], config=TrainConfig(epochs=5))
    for epoch in range(1, 6):
        state.history.append({"epoch": epoch})
        live.on_epoch_end(state)
    assert drawn == [(5, True)]
    live.drawn_epochs = 1  # as if training had stopped early after epoch 3 with only epoch 1 drawn
    state.history = state.history[:3]
    live.on_train_end(state)
    assert drawn[-1] == (3, False)


def test_live_plot_spends_at_most_a_twentieth_of_the_run_drawing(tmp_path, monkeypatch):
    """Epochs of 1 s and redraws of 0.5 s: none in the first 5 s, then one per ≥ 10 s, and the last epoch."""
    from divekit.report import live as live_module

    clock = [0.0]
    monkeypatch.setattr(live_module.time, "monotonic", lambda: clock[0])
    live = live_module.LivePlot(tmp_path / "live.png", notebook=False)
    drawn = []

    def draw(state, last):
        drawn.append(len(state.history))
        clock[0] += 0.5

    monkeypatch.setattr(live, "_draw", draw)
    state = argparse.Namespace(history=[], config=TrainConfig(epochs=40))
    live.on_train_start(state)
    for epoch in range(1, 41):
        clock[0] += 1.0
        state.history.append({"epoch": epoch})
        live.on_epoch_end(state)
    assert drawn == [5, 15, 25, 35, 40]
    assert 0.5 * (len(drawn) - 1) <= 0.05 * clock[0]  # the redraws before the last: within 5 % of the time


def test_datasets_lists_every_kind_and_refuses_an_unknown_download(capsys, tmp_path):
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("fashion-mnist-mini", "house-prices", "imdb", "glove-50d"):
        assert f"\n{name} " in f"\n{out}"
    assert main(["datasets", "--download", "nosuch"]) == 2
    assert "expected one of fashion-mnist, mnist, kmnist, fashion-mnist-mini, house-prices, imdb" in \
        one_error_line(capsys)


def test_an_interrupted_run_says_how_to_continue(tmp_path, capsys):
    from divekit.training.run import train_run

    class CtrlC:
        def on_epoch_end(self, state):
            raise KeyboardInterrupt

    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=2, threads=1, device="cpu")
    with pytest.raises(KeyboardInterrupt) as e:
        train_run(config, tmp_path, "r", callbacks=[CtrlC()])
    assert e.value.__notes__ == [f"continue the run with: divekit train --resume {tmp_path / 'r'}"]


def test_main_prints_the_notes_of_an_interrupt(monkeypatch, capsys):
    import divekit.cli.models as models_cli

    def interrupted(args):
        e = KeyboardInterrupt()
        e.add_note("continue the run with: divekit train --resume runs/x")
        raise e

    monkeypatch.setattr(models_cli, "run", interrupted)
    assert main(["models"]) == 130
    assert capsys.readouterr().err == "interrupted\ncontinue the run with: divekit train --resume runs/x\n"


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_a_run_that_did_not_finish_points_at_resume(tmp_path, capsys, command):
    run_dir = fake_run(tmp_path, "cut", "fashion-mnist-mini", finished=False)
    (run_dir / "checkpoint").mkdir()
    assert main([command, str(run_dir)]) == 2
    assert f"has no model.safetensors: the run did not finish; continue it with 'divekit train --resume {run_dir}'" \
        in one_error_line(capsys)


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "house-prices", "--flip"], "--flip, --tta: for image data, not tabular data"),
    (["--data", "imdb", "--model", "bilstm", "--augment-crop", "2", "--resize", "32"],
     "--resize, --augment-crop: for image data, not text data"),
    (["--data", "fashion-mnist-mini", "--embedding", "glove-50d"], "--embedding: for text data"),
])
def test_options_of_another_kind_of_data_are_refused(tmp_path, capsys, argv, message):
    assert main(["train", *argv, "--runs-dir", str(tmp_path)]) == 2
    assert message in one_error_line(capsys)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("native", [True, False])
def test_fmnist93_takes_the_variant_for_the_machine_and_says_which(monkeypatch, capsys, native):
    import divekit.machine as machine
    from divekit.cli.train import config_from_args, say_recipe_variant

    monkeypatch.setattr(machine, "cpu_bf16_native", lambda: native)
    args = build_parser().parse_args(["train", "--recipe", "fmnist-93", "--device", "cpu"])
    config = config_from_args(args)
    assert config.recipe == ("fmnist-93-bf16" if native else "fmnist-93-fp32")
    say_recipe_variant(args)
    out = capsys.readouterr().out
    assert f"recipe fmnist-93: {config.recipe}, for a CPU with{'' if native else 'out'} native bf16" in out
    forced = config_from_args(build_parser().parse_args(["train", "--recipe", "fmnist-93", "--precision", "fp32"]))
    assert forced.recipe == "fmnist-93-fp32" and forced.precision == "fp32"


def test_a_data_dir_that_does_not_exist_is_refused(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path / "nope"), "--runs-dir", str(tmp_path)]) == 2
    assert f"--data-dir {tmp_path / 'nope'}: no such folder or file" in one_error_line(capsys)


def test_a_model_file_given_to_train_points_to_summary_and_fit(tmp_path, capsys):
    """``divekit summary mynet.py:net`` takes a model of one's own; ``divekit train`` builds registered models, and
    says where such a model goes instead."""
    (tmp_path / "mynet.py").write_text("from torch import nn\nnet = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n")
    assert main(["summary", f"{tmp_path / 'mynet.py'}:net"]) == 0
    capsys.readouterr()
    assert main(["train", "--model", f"{tmp_path / 'mynet.py'}:net", "--data", "fashion-mnist-mini", "--runs-dir",
                 str(tmp_path / "runs")]) == 2
    err = one_error_line(capsys)
    assert "unknown model" in err and "train it from Python with divekit.training.fit.fit(model, loader, config)" \
        in err
    assert not (tmp_path / "runs").exists()
