"""Regression tests for what a hostile new-user audit found, one group per mechanism: the output guard, the
option-range table, finite restored weights, training that never trains, messages that name the real cause,
moved data, and the Python API's argument checks."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from divekit import api
from divekit.cli import main
from divekit.errors import ConfigError, DataError, TrainingDiverged
from divekit.training.checkpoint import checkpoint_path
from divekit.training.config import TrainConfig
from divekit.training.fit import fit

MINI = ["--data", "fashion-mnist-mini", "--model", "softmax", "--threads", "1"]


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # refused by the argument parser
        return int(e.code)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A small finished image run, with a checkpoint."""
    runs = tmp_path_factory.mktemp("runs")
    return api.train(data="fashion-mnist-mini", model="softmax", epochs=1, threads=1, runs_dir=runs, name="a").path


# --- data loss: no command writes over a run's record ----------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["predict", "{run}", "--out", "{run}/config.json"],
    ["predict", "{run}", "--out", "{run}/model.safetensors"],
    ["report", "{run}", "--out", "{run}/model.safetensors"],
    ["report", "{run}", "--out", "{run}/metrics.csv"],
    ["predict", "{run}", "--out", "{run}/checkpoint/last.safetensors"],
])
def test_no_command_writes_over_a_runs_record(finished, capsys, argv):
    before = {p.name: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    assert run_main([a.format(run=finished) for a in argv]) == 2
    assert "refusing to write over this file: it is part of the record of the run" in one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in finished.rglob("*") if p.is_file()} == before
    assert api.load_run(finished).evaluate()["acc"] > 0.5  # still readable


def test_outputs_beside_the_record_are_fine(finished, tmp_path):
    assert run_main(["predict", str(finished), "--out", str(finished / "mine.csv")]) == 0
    assert run_main(["report", str(finished), "--out", str(tmp_path / "r.html")]) == 0


# --- numbers: one table of ranges ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["train", *MINI, "--threads", "100000"], "argument --threads: expected an integer from 1 to"),
    (["train", *MINI, "--threads", "3000000000"], "argument --threads: expected an integer from 1 to"),
    (["train", *MINI, "--gamma", "1e30"], "argument --gamma: expected a number in (0, 1]"),
    (["train", *MINI, "--width", "1e308"], "argument --width: expected a number in (0, 16]"),
    (["train", *MINI, "--hidden", "100000000"], "argument --hidden: expected an integer from 1 to 65536"),
    (["summary", "mlp", "--classes", "100000000"], "argument --classes: expected an integer from 1 to 100000"),
    (["summary", "mlp", "--input", "1x1x100000x100000"], "argument --input: expected a shape like 1x1x28x28"),
    (["inspect", "--model", "mlp-relu-xavier", "--lr", "1e39"], "argument --lr: expected a number in (0, 1e+38]"),
    (["scratch", "linreg", "--epochs", "99999999999999999999"], "argument --epochs: expected an integer from 1"),
])
def test_absurd_numbers_are_one_error_line(tmp_path, capsys, argv, needle):
    assert run_main([*argv, *(["--runs-dir", str(tmp_path)] if argv[0] != "summary" else [])]) == 2
    assert needle in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_warmup_as_long_as_the_run_is_refused(tmp_path, capsys):
    # 5,000 images / 256 = 20 steps: 1,000 warm-up steps would keep the rate near 0 for the whole run
    assert run_main(["train", *MINI, "--epochs", "1", "--warmup", "1000", "--schedule", "cosine",
                     "--runs-dir", str(tmp_path)]) == 2
    assert "--warmup 1000 is 1000 steps, as long as the whole run (20 steps)" in one_error_line(capsys)
    assert not any(tmp_path.iterdir())


# --- restored weights are finite; a run that never trained is not a success -------------------------------------

def _poison(path) -> None:
    tensors = load_file(str(path))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and k.startswith(("model.", "0.", "1.")))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(path), metadata=metadata)


def test_resume_from_a_nan_checkpoint_is_refused_naming_it(tmp_path, capsys):
    class Stop:
        def on_epoch_end(self, state):
            raise KeyboardInterrupt

    config = api.config(data="fashion-mnist-mini", model="softmax", epochs=2, threads=1)
    with pytest.raises(KeyboardInterrupt):
        api.train(config, runs_dir=tmp_path, name="r", callbacks=[Stop()])
    _poison(checkpoint_path(tmp_path / "r"))
    assert run_main(["train", "--resume", str(tmp_path / "r")]) == 2
    line = one_error_line(capsys)
    assert "last.safetensors" in line and "NaN or infinite values" in line
    assert not (tmp_path / "r" / "summary.json").exists()


def test_eval_and_predict_refuse_nan_weights(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    _poison(copy / "model.safetensors")
    for command in ("eval", "predict"):
        assert run_main([command, str(copy)]) == 2
        assert "model.safetensors" in (line := one_error_line(capsys)) and "NaN or infinite" in line


def test_a_run_whose_every_step_was_skipped_fails():
    model = torch.nn.Linear(2, 2)
    x, y = torch.full((8, 2), float("nan")), torch.zeros(8, dtype=torch.long)
    with pytest.raises(TrainingDiverged, match="every one of the 2 training steps .* was skipped"):
        fit(model, [(x, y), (x, y)], {"epochs": 1, "device": "cpu", "lr": 0.1}, on_nan="skip")


def test_no_training_step_at_all_is_an_error(tmp_path, capsys):
    with pytest.raises(DataError, match="no training step"):
        fit(torch.nn.Linear(2, 1), [], {"epochs": 1, "device": "cpu"})
    one_row = tmp_path / "one.csv"
    one_row.write_text("a,y\n1,2\n")
    assert run_main(["train", "--data", str(one_row), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "no training step" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- messages name the real cause -------------------------------------------------------------------------------

def test_a_recipes_net_options_do_not_follow_another_model():
    config = api.config(recipe="fmnist-93", model="lenet")
    assert config.model == "lenet" and config.model_options == {}  # cnn3's channels stay with cnn3
    assert api.config(recipe="fmnist-93-bf16", model_options={"width": 0.5}).model_options == {
        "channels": [32, 96, 192], "width": 0.5}


def test_a_finished_run_without_its_weights_says_so(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    (copy / "model.safetensors").unlink()
    assert run_main(["eval", str(copy)]) == 2
    line = one_error_line(capsys)
    assert "model.safetensors is missing, though the run finished" in line and "--resume" not in line


def test_an_interrupted_kfold_report_says_how_far_it_got(tmp_path, monkeypatch):
    import divekit.training.kfold as kfold

    real_fit, calls = kfold.fit, []

    def fit_then_interrupt(*args, **kwargs):  # a Ctrl-C in the second fold
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(kfold, "fit", fit_then_interrupt)
    config = api.config(data="fashion-mnist-mini", model="softmax", epochs=1, threads=1)
    with pytest.raises(KeyboardInterrupt):
        kfold.run_kfold(config, k=3, runs_dir=tmp_path, name="k", say=lambda s: None)
    page = api.load_run(tmp_path / "k").report().read_text(encoding="utf-8")
    assert "interrupted after 1 of 3 folds" in page


# --- moved data: --data-dir finds it ----------------------------------------------------------------------------

def test_eval_and_predict_find_moved_data_with_data_dir(tmp_path, capsys):
    from divekit.data.registry import MINI_DIR

    first = tmp_path / "first" / "mydata"
    shutil.copytree(MINI_DIR, first)
    run = api.train(data=str(first), model="softmax", epochs=1, threads=1, runs_dir=tmp_path / "runs", name="m")
    moved = tmp_path / "elsewhere"
    shutil.move(str(tmp_path / "first"), moved)
    assert run_main(["eval", str(run.path)]) == 2  # the recorded folder is gone
    assert str(first) in one_error_line(capsys)
    assert run_main(["eval", str(run.path), "--data-dir", str(moved / "mydata")]) == 0
    assert f"test accuracy {run.final['test_acc']:.4f}" in capsys.readouterr().out
    assert run_main(["predict", str(run.path), "--data-dir", str(moved)]) == 0


# --- the Python API checks its arguments like the CLI -----------------------------------------------------------

def test_train_config_types_are_named():
    with pytest.raises(ConfigError, match=r"^epochs should be int, found str '3'$"):
        TrainConfig(epochs="3")
    with pytest.raises(ConfigError, match=r"^unknown setting 'epoch' \(epochs\?\): see divekit.TrainConfig"):
        api.config(epoch=3)
    with pytest.raises(ConfigError, match=r"^unknown settings 'learning_rate' \(lr\?\), 'zzz': see"):
        api.config(learning_rate=0.1, zzz=1)
    with pytest.raises(ConfigError, match="expected a TrainConfig or a dict"):
        fit(torch.nn.Linear(2, 1), [(torch.zeros(2, 2), torch.zeros(2))], "epochs=1")


def test_fit_takes_a_dict_of_settings():
    model = torch.nn.Linear(2, 2)
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    state = fit(model, [(x, y)], {"epochs": 2, "device": "cpu", "lr": 0.1})
    assert len(state.history) == 2
