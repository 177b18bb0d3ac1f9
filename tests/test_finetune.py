"""Fine-tuning (--init): earlier weights in by name and shape, a fresh output layer when the classes differ, one
line naming what does not fit, safe loading, rates by layer, head-first epochs, and bitwise resume."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from divekit import api
from divekit.cli import main
from divekit.data.idx import write_idx
from divekit.data.images import load_dataset
from divekit.errors import CheckpointError, ConfigError
from divekit.models.registry import build_model
from divekit.training.config import TrainConfig
from divekit.training.finetune import Pretrained, layer_multipliers, load_pretrained, read_pretrained
from divekit.training.run import train_run

REPO = Path(__file__).resolve().parents[1]
KILLABLE = REPO / "tests" / "helpers" / "killable.py"
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SMALL = dict(model="mlp", model_options={"hidden": (32, 16)}, batch_size=250, threads=1, device="cpu",
             precision="fp32", opt="sgd", lr=0.1, momentum=0.9, schedule="constant", warmup=0.0, seed=0)


def mlp(num_classes: int = 10, hidden: tuple[int, ...] = (32, 16)) -> torch.nn.Module:
    return build_model("mlp", (1, 28, 28), num_classes, hidden=hidden)


@pytest.fixture(scope="module")
def relabelled(tmp_path_factory) -> Path:
    """The bundled Fashion-MNIST sample as an IDX folder whose classes are ``0``…``9``, each the next garment:
    the same pictures, other classes."""
    folder = tmp_path_factory.mktemp("relabelled")
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = load_dataset("fashion-mnist-mini", split)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", ds.images[:, 0].numpy())
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", ((ds.labels + 1) % 10).to(torch.uint8).numpy())
    return folder


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """An mlp trained for two epochs on the Fashion-MNIST sample."""
    runs = tmp_path_factory.mktemp("pre")
    run_dir, state = train_run(TrainConfig(data="fashion-mnist-mini", epochs=2, **SMALL), runs, "pre")
    assert state.history[-1]["test_acc"] > 0.7
    return run_dir


def test_same_classes_load_everything_and_other_classes_get_a_fresh_output_layer():
    source = mlp()
    saved = {k: v.clone() for k, v in source.state_dict().items()}
    torch.manual_seed(1)
    model = mlp()
    fresh_head = model[-1].weight.clone()
    done = load_pretrained(model, Pretrained(saved, Path("w.safetensors"), "mlp", FASHION), FASHION, "mlp")
    assert done["replaced"] == [] and all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    torch.manual_seed(1)
    model = mlp()
    done = load_pretrained(model, Pretrained(saved, Path("w.safetensors"), "mlp", FASHION), list("0123456789"), "mlp")
    head = done["output_layer"]
    assert done["replaced"] == [f"{head}.bias", f"{head}.weight"] and torch.equal(model[-1].weight, fresh_head)
    assert torch.equal(model[1].weight, saved["1.weight"])  # the first hidden layer came from the source
    three = mlp(3)  # a bare state dict: the output layer's shape tells
    assert load_pretrained(three, Pretrained(saved, Path("w.pth")), ["a", "b", "c"], "mlp")["replaced"]


def test_weights_that_do_not_fit_are_one_line_naming_the_layers():
    saved = mlp(hidden=(64, 16)).state_dict()
    with pytest.raises(CheckpointError) as e:
        load_pretrained(mlp(), Pretrained(saved, Path("w.pth"), "other-mlp"), FASHION, "mlp")
    message = str(e.value)
    assert "\n" not in message and "(model other-mlp)" in message and "1.weight saved [64, 784], model [32, 784]" \
        in message


def test_image_weights_from_other_inputs_name_both_input_shapes(pretrained):
    """From a run on 28×28 grey images to 3×32×32 colour ones: the first layer cannot fit, and the line says the
    inputs differ and how image folders are decoded at the run's size."""
    model = build_model("mlp", (3, 32, 32), 10, hidden=(32, 16))
    with pytest.raises(CheckpointError) as e:
        load_pretrained(model, read_pretrained(str(pretrained)), FASHION, "mlp", [3, 32, 32])
    assert str(e.value).endswith("; that run learned from 1×28×28 inputs, this data gives 3×32×32 (--image-size 28 "
                                 "decodes image folders at 28×28)")


def test_pth_files_load_safely(tmp_path):
    weights = {f"module.{k}": v for k, v in mlp().state_dict().items()}  # as DistributedDataParallel saves
    torch.save({"state_dict": weights}, tmp_path / "w.pth")
    loaded = read_pretrained(str(tmp_path / "w.pth"))
    assert set(loaded.tensors) == set(mlp().state_dict()) and loaded.classes is None
    with open(tmp_path / "evil.pth", "wb") as f:  # unpickling this would call eval: code, not weights
        pickle.dump(type("Evil", (), {"__reduce__": lambda self: (eval, ("1",))})(), f, protocol=2)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_pretrained(str(tmp_path / "evil.pth"))
    bad = mlp().state_dict()
    bad["1.weight"][0, 0] = float("nan")
    torch.save(bad, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        read_pretrained(str(tmp_path / "nan.pt"))
    with pytest.raises(ConfigError, match="expected a run directory or a"):
        read_pretrained(__file__)


def test_earlier_layers_get_lower_rates():
    model = mlp()
    mults = layer_multipliers(model, 0.1)
    assert [mults[id(m.weight)] for m in (model[1], model[3], model[5])] == pytest.approx([0.1, 0.1 ** 0.5, 1.0])
    assert mults[id(model[1].bias)] == mults[id(model[1].weight)]


class Snapshots:
    def __init__(self) -> None:
        self.rows: list[dict[str, torch.Tensor]] = []
        self.lrs: list[list[float]] = []

    def on_epoch_end(self, state) -> None:
        self.rows.append({k: v.clone() for k, v in state.model.state_dict().items()})
        self.lrs.append([g["lr"] for g in state.optimizer.param_groups])


def test_head_first_then_every_layer_at_its_rate(pretrained, relabelled, tmp_path):
    """One head-only epoch on pretrained features already classifies the relabelled pictures; only then do the
    earlier layers move."""
    seen = Snapshots()
    source = api.load_run(pretrained).open("cpu").model.state_dict()
    config = TrainConfig(data=str(relabelled), epochs=2, init=str(pretrained), freeze_epochs=1, **SMALL)
    run_dir, state = train_run(config, tmp_path, "ft", callbacks=[seen])
    assert state.history[0]["test_acc"] > 0.6  # chance: 0.1; the head alone learned in one epoch
    first, second = seen.rows
    assert torch.equal(first["1.weight"], source["1.weight"]) and not torch.equal(first["5.weight"], source["5.weight"])
    assert not torch.equal(second["1.weight"], source["1.weight"])
    assert sorted(set(seen.lrs[-1])) == pytest.approx([0.01, 0.1 * 0.1 ** 0.5, 0.1])
    meta = json.loads((run_dir / "config.json").read_text())["meta"]["init"]
    assert meta["replaced"] == ["5.bias", "5.weight"] and meta["source"] == str(pretrained / "model.safetensors")


def test_freeze_epochs_needs_init_and_fits_in_the_run():
    with pytest.raises(ConfigError, match="needs --init"):
        TrainConfig(freeze_epochs=1)
    with pytest.raises(ConfigError, match="more than --epochs"):
        TrainConfig(init="x", freeze_epochs=4, epochs=3)


def killable(runs: Path, *args: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    points = ["--kill-at-step", str(kill_at)] if kill_at else []
    return subprocess.run([sys.executable, str(KILLABLE), *points, "--", "train", "--runs-dir", str(runs), *args],
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                               "MPLBACKEND": "Agg"})


def test_a_killed_fine_tuning_run_resumes_bitwise(pretrained, relabelled, tmp_path):
    """Killed in the head-only epoch (20 steps an epoch), resumed from step 14 across the unfreezing; the
    uninterrupted run and the resumption run in this process (one thread, as the killed process)."""
    args = ["--data", str(relabelled), "--init", str(pretrained), "--freeze-epochs", "1", "--epochs", "2",
            "--model", "mlp", "--hidden", "32", "16", "--batch-size", "250", "--threads", "1", "--precision", "fp32",
            "--checkpoint-every", "7", "--seed", "2"]
    assert main(["train", "--runs-dir", str(tmp_path), *args, "--name", "whole"]) == 0  # in this process
    cut = killable(tmp_path, *args, "--name", "cut", kill_at=17)
    assert cut.returncode == -signal.SIGKILL, cut.stderr[-2000:]
    assert main(["train", "--runs-dir", str(tmp_path), "--resume", str(tmp_path / "cut")]) == 0
    for name in ("model.safetensors", "metrics.csv"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["resumed_at_steps"] == [14]


def test_every_fold_of_a_kfold_run_starts_from_the_init_weights(pretrained, tmp_path):
    """At a rate too small to learn anything in one epoch, each fold scores what the pretrained net scores."""
    run = api.kfold(data="fashion-mnist-mini", k=2, epochs=1, init=str(pretrained), runs_dir=tmp_path,
                    **{**SMALL, "lr": 1e-7})
    assert all(fold["final"]["valid_acc"] > 0.7 for fold in run.summary["folds"])  # chance: 0.1
