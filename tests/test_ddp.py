"""Data-parallel training: 2 CPU processes (torchrun, gloo) follow the single process with the same global batch.

Tolerance: with shards of equal size, DDP's mean of the per-rank mean gradients is the global batch's mean
gradient up to float32 rounding, so after 2 × 79 SGD steps the weights may differ by rounding only: the test
allows max |Δw| ≤ 5e-4 and a relative 5e-5 on the losses (how far the rounding drifts depends on the machine's
matrix kernels, see the test); accuracies are counts and must be equal.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from divekit.cli import main
from divekit.data.loader import Augment, TensorLoader
from divekit.training.distributed import LAUNCH_ENV, shard_range

REPO = Path(__file__).resolve().parents[1]
# mlp has no batch norm (per-rank batch statistics would differ) and no dropout (masks are drawn per rank);
# 5,000 examples / 64 leave a last batch of 8, so the uneven-epoch path is exercised too.
RECIPE = ["--data", "fashion-mnist-mini", "--model", "mlp", "--epochs", "2", "--batch-size", "64", "--lr", "0.1",
          "--precision", "fp32", "--device", "cpu", "--flip", "--augment-crop", "2", "--seed", "3"]


def toy(n=21):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 6, 6).contiguous()
    return images, torch.arange(n)


def test_shards_of_each_global_batch_are_the_single_process_batch_with_its_augmentation():
    x, y = toy()
    kw = {"shuffle": True, "seed": 5, "augment": Augment(2, True)}
    whole = TensorLoader(x, y, 8, **kw)
    ranks = [TensorLoader(x, y, 8, rank=r, world=2, **kw) for r in range(2)]
    for epoch in range(2):
        for loader in (whole, *ranks):
            loader.set_epoch(epoch)
        joined = [(torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])) for a, b in zip(*ranks, strict=True)]
        assert len(joined) == len(whole) == len(ranks[0]) == 3  # 8 + 8 + 5 (split 2 / 3)
        for (xj, yj), (xw, yw) in zip(joined, whole, strict=True):
            assert torch.equal(yj, yw) and torch.equal(xj, xw)


def test_a_last_batch_smaller_than_the_world_is_skipped_by_every_rank():
    x, y = toy(17)  # 2 batches of 8, then 1 example for 2 ranks: every rank must take the same number of steps
    ranks = [TensorLoader(x, y, 8, shuffle=True, rank=r, world=2) for r in range(2)]
    assert [len(r) for r in ranks] == [len(list(r)) for r in ranks] == [2, 2]
    assert len(TensorLoader(x, y, 8)) == 3  # a single process keeps it
    assert [shard_range(5, r, 2) for r in range(2)] == [(0, 2), (2, 5)]
    with pytest.raises(ValueError, match="rank"):
        TensorLoader(x, y, 8, rank=2, world=2)


def test_ddp_outside_torchrun_says_how_to_launch(monkeypatch, capsys, tmp_path):
    for name in LAUNCH_ENV:
        monkeypatch.delenv(name, raising=False)
    assert main(["train", *RECIPE, "--runs-dir", str(tmp_path), "--ddp"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "torchrun --nproc_per_node" in err and "RANK" in err
    assert not any(tmp_path.iterdir())


def test_global_batch_must_split_over_the_processes(monkeypatch, capsys, tmp_path):
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    recipe = [a if a != "64" else "65" for a in RECIPE]
    assert main(["train", *recipe, "--runs-dir", str(tmp_path), "--ddp"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --batch-size 65 is the global batch and must be divisible by the 2 processes "
                   "(each takes batch/2); try 64 or 66")


def rows(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def torchrun(*args: str, kill_at_step: int | None = None) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m divekit train ARGS --ddp`` (a free local port is picked);
    ``kill_at_step``: through ``tests/helpers/killable.py``, rank 0 (the process that checkpoints) SIGKILLs
    itself after that step."""
    start = ["-m", "divekit"] if kill_at_step is None else [
        str(REPO / "tests" / "helpers" / "killable.py"), "--kill-at-step", str(kill_at_step), "--"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *start,
           "train", *args, "--ddp"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})


def max_weight_difference(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


@pytest.mark.parametrize("opt", ["sgd", "muon"])
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path, capsys, opt):
    recipe = [*RECIPE, "--opt", opt]
    assert main(["train", *recipe, "--runs-dir", str(tmp_path / "one"), "--name", "run"]) == 0
    capsys.readouterr()
    done = torchrun(*recipe, "--runs-dir", str(tmp_path / "two"), "--name", "run")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    # rank 0 alone prints (one line per epoch, one result) and writes (one run directory)
    assert out.count("epoch 1/2") == 1 and out.count("run: ") == 1, out[-3000:]
    assert [p.name for p in (tmp_path / "two").iterdir()] == ["run"]
    one, two = tmp_path / "one" / "run", tmp_path / "two" / "run"
    # SGD: equal to float tolerance. How far the rounding of one 64-example product and two 32-example ones
    # plus an all-reduce drifts apart over 158 steps depends on the machine's matrix kernels: here under 1e-5;
    # on a 16-core AVX-512 machine (torch 2.11, the same with one thread or many) 1.1e-5 relative (test loss)
    # and 1.6e-4 (weights). Twice the rate (a summed, not averaged, gradient) or another data order moves the
    # test loss by 10 % or 5 % (measured).
    # Muon orthogonalizes each update, which lifts the weakest directions of a gradient to full size, so the
    # all-reduce's different rounding grows: measured 1e-5 (loss, epoch 1) to 6e-4 (epoch 2) relative,
    # accuracies within 0.001, weights within 0.011.
    rel, acc, weights = (5e-5, 0, 5e-4) if opt == "sgd" else (5e-3, 0.005, 0.05)
    for a, b in zip(rows(one), rows(two), strict=True):
        assert a.keys() == b.keys() and a["step"] == b["step"] == 79 * a["epoch"]
        assert abs(a["train_acc"] - b["train_acc"]) <= acc and abs(a["test_acc"] - b["test_acc"]) <= acc
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=rel)
        assert b["test_loss"] == pytest.approx(a["test_loss"], rel=rel)
    assert max_weight_difference(one, two) <= weights
    assert rows(two)[-1]["test_acc"] > 0.6  # it learned (chance: 0.1)


@pytest.mark.slow
def test_a_killed_ddp_run_resumes_to_the_uninterrupted_result(tmp_path):
    """Rank 0 is SIGKILLed in epoch 2 (torchrun then stops rank 1); both resume from the epoch-1 checkpoint."""
    runs = str(tmp_path)
    assert torchrun(*RECIPE, "--runs-dir", runs, "--name", "whole").returncode == 0
    assert torchrun(*RECIPE, "--runs-dir", runs, "--name", "cut", kill_at_step=100).returncode != 0
    assert not (tmp_path / "cut" / "summary.json").exists()
    done = torchrun("--resume", str(tmp_path / "cut"))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert rows(tmp_path / "cut") == rows(tmp_path / "whole")
    assert max_weight_difference(tmp_path / "cut", tmp_path / "whole") == 0.0
