"""Early stopping restores the best epoch's weights; the overfitting sentence reads the curves right."""

from __future__ import annotations

import pytest
import torch

from divekit.data.loader import TensorLoader
from divekit.errors import ConfigError
from divekit.report.overfitting import overfitting_sentence
from divekit.training.callbacks import EarlyStopping, final_row
from divekit.training.config import TrainConfig
from divekit.training.fit import fit


class Scripted:
    """Writes a scripted validation score into each row and snapshots the weights of every epoch."""

    def __init__(self, key, values):
        self.key, self.values, self.weights = key, values, {}

    def on_epoch_end(self, state):
        row = state.history[-1]
        row[self.key] = self.values[row["epoch"] - 1]
        self.weights[row["epoch"]] = {k: v.clone() for k, v in state.model.state_dict().items()}


def train_with(key, values, stopper, epochs=8):
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randn(64)
    model = torch.nn.Linear(3, 1)
    config = TrainConfig(task="regression", epochs=epochs, batch_size=16, opt="sgd", lr=0.05, momentum=0.0,
                         nesterov=False, weight_decay=0.0, schedule="constant", warmup=0, precision="fp32",
                         device="cpu")
    script = Scripted(key, values)
    state = fit(model, TensorLoader(x, y, 16, shuffle=True), config, callbacks=[script, stopper])
    return model, state, script


def test_early_stopping_restores_the_best_epochs_weights():
    stopper = EarlyStopping("valid_score", patience=2)
    model, state, script = train_with("valid_score", [3.0, 2.0, 1.0, 1.5, 1.7, 0.5, 0.1, 0.1], stopper)
    assert len(state.history) == 5 and state.stop  # epochs 4 and 5 did not beat epoch 3
    assert (stopper.best_epoch, stopper.best, stopper.stopped_epoch) == (3, 1.0, 5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, script.weights[3][k])
        assert not torch.equal(v, script.weights[5][k])  # training went on, and was undone
    assert state.early_stopping["best_epoch"] == 3
    assert final_row(state)["epoch"] == 3


def test_without_restore_the_last_weights_stay_and_accuracy_is_maximised():
    stopper = EarlyStopping("valid_acc", patience=1, restore_best=False)
    model, state, script = train_with("valid_acc", [0.5, 0.7, 0.6, 0.9], stopper)
    assert stopper.higher and stopper.best_epoch == 2 and len(state.history) == 3
    assert all(torch.equal(v, script.weights[3][k]) for k, v in model.state_dict().items())
    assert final_row(state)["epoch"] == 3


def test_min_delta_and_bad_settings():
    stopper = EarlyStopping("valid_score", patience=1, min_delta=0.5)
    _, state, _ = train_with("valid_score", [3.0, 2.8, 1.0], stopper)
    assert len(state.history) == 2  # 2.8 is not better than 3.0 by more than 0.5
    with pytest.raises(ConfigError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ConfigError, match="'valid_loss' is not measured; this run has train_loss"):
        train_with("other", [1.0] * 8, EarlyStopping("valid_loss"))


def rows(train, valid, metric="loss"):
    return [{"epoch": i + 1, f"train_{metric}": t, f"valid_{metric}": v}
            for i, (t, v) in enumerate(zip(train, valid, strict=True))]


def test_overfitting_sentence_names_the_epoch_where_the_gap_grows():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05]
    valid = [1.1, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7]
    sentence = overfitting_sentence(rows(train, valid))
    assert sentence.startswith("Overfitting from epoch 4:") and "gets worse" in sentence


def test_overfitting_sentence_other_cases():
    assert "still at its best at the last epoch, 3" in overfitting_sentence(rows([1.0, 0.5, 0.3], [1.1, 0.6, 0.35]))
    flat = overfitting_sentence(rows([1.0, 0.5, 0.3, 0.3], [1.1, 0.6, 0.35, 0.351]))
    assert flat.startswith("No sign of overfitting: validation loss is best at epoch 3")
    assert "cannot be judged" in overfitting_sentence([{"epoch": 1, "train_loss": 1.0}])
    accuracy = overfitting_sentence(rows([0.7, 0.9, 0.99, 1.0], [0.68, 0.85, 0.8, 0.75], "acc"))
    assert accuracy.startswith("Overfitting from epoch 2")
    unstable = overfitting_sentence(rows([1.0, 0.5, 2.0], [1.1, 0.55, 2.05]))
    assert "unstable" in unstable
    starting = overfitting_sentence(rows([1.0, 0.5, 0.3, 0.1], [1.1, 0.6, 0.6, 0.61]))
    assert "overfitting is starting" in starting
