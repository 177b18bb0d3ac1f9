"""The trainer learns something real, is deterministic, and its pieces behave as documented."""

import math

import pytest
import torch

from divekit.data.images import load_dataset
from divekit.data.loader import TensorLoader
from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.training.fit import TrainingDiverged, evaluate, fit
from divekit.training.run import train_run
from divekit.training.schedule import lr_at


def test_schedules_are_pure_functions_of_the_step():
    assert lr_at(5, 100, 0.1, "constant") == 0.1
    assert lr_at(0, 100, 0.1, "onecycle", warmup_steps=10) == pytest.approx(0.01)
    assert lr_at(9, 100, 0.1, "onecycle", warmup_steps=10) == pytest.approx(0.1)
    assert lr_at(100, 100, 0.1, "onecycle", warmup_steps=10) == pytest.approx(0.0)
    assert lr_at(55, 100, 0.1, "cosine") == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.55)))
    assert lr_at(25, 100, 0.1, "step", step_size=10, gamma=0.5) == pytest.approx(0.025)
    assert [lr_at(s, 50, 1.0, "cosine") for s in range(50)] == sorted(
        [lr_at(s, 50, 1.0, "cosine") for s in range(50)], reverse=True)


def mini_loaders(batch=128):
    train = load_dataset("fashion-mnist-mini", "train")
    test = load_dataset("fashion-mnist-mini", "test")
    kw = {"mean": train.mean, "std": train.std}
    return (TensorLoader(train.images, train.labels, batch, shuffle=True, seed=0, **kw),
            TensorLoader(test.images, test.labels, 500, **kw))


def test_softmax_regression_learns_fashion_mnist_sample():
    torch.manual_seed(0)
    train, test = mini_loaders()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    cfg = TrainConfig(epochs=3, opt="sgd", lr=0.1, momentum=0.9, nesterov=False, schedule="constant", warmup=0,
                      label_smoothing=0.0, device="cpu")
    state = fit(model, train, cfg, test_loader=test)
    accs = [row["test_acc"] for row in state.history]
    assert accs[-1] > 0.70  # chance is 0.10
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]
    assert state.step == 3 * len(train)


def test_evaluate_restores_training_mode_and_counts_correctly():
    train, test = mini_loaders()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(784, 10))
    model.train()
    m = evaluate(model, test)
    assert model.training and 0.0 <= m["acc"] <= 1.0 and m["loss"] > 0


def test_nan_loss_stops_and_names_the_step():
    train, _ = mini_loaders()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    cfg = TrainConfig(epochs=1, lr=1e30, momentum=0, nesterov=False, schedule="constant", warmup=0, device="cpu")
    with pytest.raises(TrainingDiverged, match=r"at step \d+ .*smaller --lr"):
        fit(model, train, cfg)


def test_config_validation_and_round_trip():
    with pytest.raises(ConfigError, match="--lr"):
        TrainConfig(lr=-1).validate()
    with pytest.raises(ConfigError, match="--opt"):
        TrainConfig(opt="adagrad").validate()
    cfg = TrainConfig(epochs=3, betas=(0.8, 0.9))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="epochs should be int"):
        TrainConfig.from_dict({"epochs": "3"}, "x.json")
    with pytest.raises(ConfigError, match="unknown keys"):
        TrainConfig.from_dict({"epoch": 3}, "x.json")


def run_mini(tmp_path, name, **kw):
    cfg = TrainConfig(data="fashion-mnist-mini", epochs=2, device="cpu", threads=1, **kw)
    return train_run(cfg, tmp_path, name)


def test_run_directory_contract_and_same_seed_same_metrics(tmp_path):
    a, state = run_mini(tmp_path, "a")
    b, _ = run_mini(tmp_path, "a")  # same name: a new directory, never an overwrite
    assert a.name == "a" and b.name == "a-2"
    for f in ("config.json", "metrics.csv", "model.safetensors", "curves.png", "summary.json"):
        assert (a / f).is_file(), f
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    assert state.history[-1]["test_acc"] > 0.60  # 40 steps on the 5k sample; chance is 0.10
    c, _ = run_mini(tmp_path, "c", seed=1)
    assert (a / "metrics.csv").read_bytes() != (c / "metrics.csv").read_bytes()


def test_predict_refuses_a_shuffling_loader():
    from divekit.errors import ConfigError
    from divekit.training.evaluate import predict_probabilities

    train, test = mini_loaders()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with pytest.raises(ConfigError, match="shuffl"):
        predict_probabilities(model, train)
    assert predict_probabilities(model, test).shape == (1000, 10)
