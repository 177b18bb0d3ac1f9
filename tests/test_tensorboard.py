"""``--tensorboard``: event files readable by TensorBoard's own reader; a clear error without the package."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.training.fit import fit
from divekit.training.tensorboard import TensorBoardLogger, summary_writer_class, tag_of

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def test_tags_group_splits_of_a_metric():
    assert [tag_of(k) for k in ("train_loss", "test_acc", "valid_log_rmse", "lr")] == [
        "loss/train", "accuracy/test", "log_rmse/valid", "lr"]


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard is not installed (pip install tensorboard)")
def test_event_files_hold_scalars_lr_and_histograms(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.manual_seed(0)
    x, y = torch.randn(48, 4), torch.randint(0, 3, (48,))
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16)]
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    config = TrainConfig(epochs=2, lr=0.1, schedule="step", step_size=2, gamma=0.5, warmup=0, device="cpu",
                         precision="fp32")
    state = fit(model, batches, config, test_loader=batches, callbacks=[TensorBoardLogger(tmp_path / "tb")])
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    scalars = acc.Tags()["scalars"]
    for tag in ("loss/train", "accuracy/train", "loss/test", "accuracy/test", "lr"):
        assert tag in scalars, tag
    assert [e.step for e in acc.Scalars("loss/test")] == [1, 2]
    for event, row in zip(acc.Scalars("accuracy/test"), state.history, strict=True):
        assert event.value == pytest.approx(row["test_acc"], rel=1e-6)  # stored as float32
    lrs = [e.value for e in acc.Scalars("lr")]
    assert len(lrs) == 6 and lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.1 * 0.5 ** 2)
    hist = acc.Tags()["histograms"]
    assert {"weights/0.weight", "gradients/0.weight", "weights/2.bias", "gradients/2.bias"} <= set(hist)
    assert acc.Histograms("weights/0.weight")[-1].histogram_value.num == 32  # 8×4 weights


def test_missing_tensorboard_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    with pytest.raises(ConfigError, match="pip install tensorboard") as info:
        summary_writer_class()
    assert "\n" not in str(info.value)


def test_train_flag_without_tensorboard_fails_before_training(monkeypatch, capsys, tmp_path):
    from divekit.cli import main

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    code = main(["train", "--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "1", "--threads", "1",
                 "--tensorboard", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "pip install tensorboard" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # no run directory was started
