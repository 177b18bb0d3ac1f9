"""Mistake checks: each one triggered for real, and silent where nothing is wrong."""

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divekit.cli import main
from divekit.data.loader import TensorLoader
from divekit.diagnose.checks import (
    MistakeChecks,
    MistakeWarning,
    ShuffledLoaderError,
    check_devices,
    check_labels,
    check_ordered_loader,
    warn_if_training,
)
from divekit.errors import ConfigError, DataError, DivekitError
from divekit.training.config import TrainConfig
from divekit.training.fit import TrainingDiverged, fit


def config(**kw) -> TrainConfig:
    base = dict(epochs=1, device="cpu", precision="fp32", schedule="constant", lr=0.1, momentum=0.0,
                nesterov=False, weight_decay=0.0, label_smoothing=0.0)
    return TrainConfig(**{**base, **kw})


def batches(n: int = 3, size: int = 40, features: int = 4, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, features, generator=g), torch.randint(0, classes, (size,), generator=g))
            for _ in range(n)]


def test_integer_features_into_float_model_say_float():
    loader = [(x.round().long(), y) for x, y in batches()]
    with pytest.raises(DataError, match=r"torch\.int64.*x\.float\(\)"):
        fit(nn.Linear(4, 10), loader, config(), callbacks=[MistakeChecks()])


def test_integer_token_ids_into_an_embedding_are_fine():
    model = nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(32, 10))
    loader = [(torch.randint(0, 20, (40, 4)), y) for _, y in batches()]
    state = fit(model, loader, config(), callbacks=[MistakeChecks()])
    assert math.isfinite(state.history[-1]["train_loss"])


@pytest.mark.parametrize("bad, shown", [(12, "0 to 12"), (-1, "-1 to")])
def test_labels_outside_the_outputs_are_refused_before_training(bad, shown):
    x, y = batches(1)[0]
    y[5] = bad
    model = nn.Linear(4, 10)
    before = model.weight.detach().clone()
    with pytest.raises(DataError, match=rf"\[0, 10\).*{shown}"):
        fit(model, [(x, y)], config(), callbacks=[MistakeChecks()])
    assert torch.equal(model.weight, before)  # stopped before any step


def test_binary_labels_on_a_ten_output_head_warn_naming_the_unused_outputs():
    loader = batches(classes=2)
    with pytest.warns(MistakeWarning, match=r"2 of the model's 10 outputs: outputs 2–9 are never a target"):
        fit(nn.Linear(4, 10), loader, config(), callbacks=[MistakeChecks()])


def test_unused_outputs_are_named_from_all_labels_of_a_tensor_loader():
    images = torch.randint(0, 255, (60, 1, 2, 2), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 4, 5, 8] * 10)
    loader = TensorLoader(images, labels, 20, shuffle=True)
    with pytest.warns(MistakeWarning, match=r"the training labels use 6 of .* outputs 3, 6–7, 9 are never"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(4, 10)), loader, config(), callbacks=[MistakeChecks()])


def test_a_small_batch_missing_classes_by_chance_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_labels(torch.tensor([0, 1, 1, 0, 1, 0, 0, 1]), 10)  # 8 labels: could be chance
        check_labels(torch.tensor([3, 1, 7, 0] * 10), 10)  # not binary: could be chance
        check_labels(torch.tensor([[0.2, 0.8]] * 40), 10)  # soft targets are not indices


def test_model_and_batch_on_different_devices_is_one_clear_line():
    # the meta device stands in for a GPU: the model is "elsewhere", the batch on the CPU
    with pytest.raises(ConfigError, match=r"^the model is on meta but the batch features are on cpu: .*device='meta'"):
        fit(nn.Linear(4, 10).to("meta"), batches(1), config(), callbacks=[MistakeChecks()])
    x, y = batches(1)[0]
    with pytest.raises(ConfigError, match="batch labels are on meta"):
        check_devices(nn.Linear(4, 10), x, y.to("meta"))
    check_devices(nn.Linear(4, 10), x, y)  # same device: nothing


def counting_nan_loss(bad_call: int):
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        loss = F.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] == bad_call else loss
    return loss_fn


def test_fit_stops_on_a_nan_loss_naming_the_step():
    with pytest.raises(TrainingDiverged, match=r"nan at step 2 \(epoch 1.*--lr"):
        fit(nn.Linear(4, 10), batches(5), config(), loss_fn=counting_nan_loss(3))


def test_mistake_checks_stop_on_a_nan_loss_where_fit_would_wait_for_the_epoch_end():
    # on a GPU fit only checks at the epoch's end; the callback looks at each of the first steps
    class FakeState:
        step, epoch, lr, total_steps, config = 7, 0, 0.5, 100, config(lr=0.5)
        loss = torch.tensor(float("inf"))

    with pytest.raises(TrainingDiverged, match=r"inf at step 6 \(epoch 1, lr 0.5\).*--lr 0.05 instead of 0.5"):
        MistakeChecks().on_step_end(FakeState())


def regression_batches(scale: float):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 64, 20, generator=g) * scale
    return [(xb, xb.sum(1)) for xb in x]


def test_a_learning_rate_that_explodes_the_loss_is_stopped_with_a_smaller_one_suggested():
    model = nn.Linear(20, 1)
    with pytest.raises(TrainingDiverged, match=r"exploded in the first steps: .* at step 0, .*--lr 0.1 instead of 1"):
        fit(model, regression_batches(1.0), config(task="regression", lr=1.0), callbacks=[MistakeChecks()])


def test_a_sane_learning_rate_on_the_same_data_passes():
    state = fit(nn.Linear(20, 1), regression_batches(1.0), config(task="regression", lr=0.01),
                callbacks=[MistakeChecks()])
    assert math.isfinite(state.history[-1]["train_loss"])


def test_checks_change_nothing_in_training():
    """Peeking at the first batch (a shuffling DataLoader draws from the global RNG) and probing the model
    (batch norm in train mode would update its statistics) must leave the run bit for bit the same."""
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 3, (64,)))

    def run(callbacks):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
        loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
        fit(model, loader, config(epochs=2), callbacks=callbacks)
        return torch.cat([t.flatten() for t in model.state_dict().values()])

    assert torch.equal(run([]), run([MistakeChecks()]))


def test_warn_if_training_only_for_models_whose_layers_change_in_eval_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))
    with pytest.warns(MistakeWarning, match=r"train mode: its BatchNorm1d, Dropout layers .* model\.eval\(\)"):
        assert warn_if_training(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_training(model.eval())
        assert not warn_if_training(nn.Linear(4, 4).train())  # nothing behaves differently


def test_predictions_from_a_shuffling_loader_are_refused():
    images, labels = torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10)
    for shuffled in (TensorLoader(images, labels, 4, shuffle=True),
                     torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), shuffle=True)):
        with pytest.raises(ShuffledLoaderError, match="shuffles: row i would not belong to example i") as e:
            check_ordered_loader(shuffled)
        assert isinstance(e.value, DivekitError) and isinstance(e.value, ValueError)
    check_ordered_loader(TensorLoader(images, labels, 4, shuffle=False))
    check_ordered_loader(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels)))


@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["inspect", "--model", "mlp-relu-xavier"]])
def test_a_missing_relative_data_path_shows_the_absolute_path_and_the_directory(command, tmp_path, monkeypatch,
                                                                               capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--data", "./no-such-data", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"absolute path tried: {Path(tmp_path, 'no-such-data').resolve()}" in err
    assert f"current directory: {Path.cwd()}" in err
    assert "Traceback" not in err
