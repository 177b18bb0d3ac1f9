"""The fast paths (divekit.speed) compute what the plain PyTorch path computes, and ``--no-fast-paths`` really
switches them off. Each run is a fresh process, as the allocator setting holds for a whole process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from divekit import speed

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--data", "fashion-mnist-mini", "--epochs", "1", "--threads", "1", "--device", "cpu", "--precision", "fp32"]


def train(runs: Path, name: str, *args: str) -> Path:
    cmd = [sys.executable, "-m", "divekit", "train", "--runs-dir", str(runs), "--name", name, *ARGS, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                               "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]
    return runs / name


def meta(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())["meta"]


def test_sgd_step_and_allocator_change_no_bit(tmp_path):
    fast = train(tmp_path, "fast", "--model", "mlp", "--opt", "sgd", "--momentum", "0.9")
    plain = train(tmp_path, "plain", "--model", "mlp", "--opt", "sgd", "--momentum", "0.9", "--no-fast-paths")
    assert meta(fast)["fast_paths"] == ["sgd_step", "keep_freed_memory"] and meta(plain)["fast_paths"] == []
    for name in ("metrics.csv", "model.safetensors"):
        assert (fast / name).read_bytes() == (plain / name).read_bytes(), name


def test_lenet_kernels_match_the_plain_layers_to_rounding(tmp_path):
    fast = train(tmp_path, "fast", "--model", "lenet", "--lr", "0.9")
    plain = train(tmp_path, "plain", "--model", "lenet", "--lr", "0.9", "--no-fast-paths")
    assert "lenet_kernels" in meta(fast)["fast_paths"]
    a, b = (json.loads((r / "summary.json").read_text())["final"] for r in (fast, plain))
    assert abs(a["train_loss"] - b["train_loss"]) < 1e-4 and abs(a["test_acc"] - b["test_acc"]) <= 0.002


def test_every_fast_path_is_listed_with_what_it_does():
    assert set(speed.FAST_PATHS) == {"lenet_kernels", "sgd_step", "keep_freed_memory"}
    assert speed.applied("lenet", "sgd", True, "cpu") == ["lenet_kernels", "sgd_step", "keep_freed_memory"]
    assert speed.applied("lenet", "sgd", False, "cpu") == []
    assert speed.applied("fastcnn", "muon", True, "cuda") == []


def test_auto_precision_keeps_lenet_in_fp32_on_the_cpu_where_its_kernels_run(monkeypatch):
    """With native bf16, ``auto`` is bf16 autocast, which would send LeNet down the plain layers: its fp32-only
    kernels are faster, so a LeNet run with fast paths stays fp32 on the CPU; other models and GPUs keep bf16."""
    import torch

    from divekit.training import device as device_module
    from divekit.training.config import TrainConfig

    monkeypatch.setattr(device_module, "cpu_bf16_native", lambda: True)
    cpu = torch.device("cpu")
    assert device_module.run_precision(TrainConfig(model="lenet"), cpu) is None
    assert device_module.run_precision(TrainConfig(model="lenet", fast_paths=False), cpu) == torch.bfloat16
    assert device_module.run_precision(TrainConfig(model="fastcnn"), cpu) == torch.bfloat16
    assert device_module.run_precision(TrainConfig(model="lenet", precision="bf16"), cpu) == torch.bfloat16
    assert speed.fp32_only("lenet", True) and not speed.fp32_only("cnn3", True)
