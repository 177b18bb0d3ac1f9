"""The learning-rate range test: what it reads off a curve, and that a run after it is the run without it."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import divekit
from divekit.cli import main
from divekit.errors import ConfigError
from divekit.training.checkpoint import checkpoint_path, read_checkpoint
from divekit.training.lr_find import analyse, exp_rates, log_slopes, smooth


def descent_curve(lrs: list[float], spike_at: int | None = None) -> list[float]:
    """A loss flat at 2.3 up to 1e-3, falling to 0.5 by 1e-1 (steepest at 1e-2), then blowing up."""
    out = []
    for i, lr in enumerate(lrs):
        x = math.log10(lr)
        loss = 0.5 + 1.8 / (1 + math.exp(4 * (x + 2))) + (max(x + 0.7, 0) * 6) ** 2
        out.append(loss + (3.0 if i == spike_at else 0.0))
    return out


def test_slopes_are_taken_against_log_rate():
    lrs = exp_rates(1e-4, 1.0, 50)
    values = [-0.5 * math.log10(lr) for lr in lrs]
    assert log_slopes(lrs, values) == pytest.approx(-0.5)  # per decade, whatever the number of steps
    assert np.gradient(values)[10] == pytest.approx(-0.5 * 4 / 49)  # unit spacing: a slope per step, not per decade


def test_an_early_spike_does_not_become_the_suggestion():
    lrs = exp_rates(1e-7, 10.0, 100)
    losses = descent_curve(lrs, spike_at=4)
    naive = int(np.argmin(np.gradient(losses)))  # the steepest raw point, as a plain finder takes it
    assert lrs[naive] < 1e-6
    result = analyse(lrs, losses)
    assert 2e-3 < result.suggestion < 5e-2
    assert result.low < result.suggestion < result.high
    assert result.high < result.min_loss_lr


def test_smoothing_keeps_a_feature_where_it_is():
    bump = [math.exp(-((i - 60) / 6) ** 2) for i in range(120)]
    assert int(np.argmax(smooth(bump))) == 60  # a one-way moving average would move it about 9 steps later


def test_a_curve_that_never_falls_or_dies_at_once_suggests_nothing():
    lrs = exp_rates(1e-3, 1.0, 40)
    with pytest.raises(ConfigError, match="never fell below its starting level"):
        analyse(lrs, [2.3 + 0.01 * i for i in range(40)])
    with pytest.raises(ConfigError, match="diverged after 3 steps"):
        analyse(lrs[:3], [2.3, 2.2, 9.0], diverged_at=lrs[3])


def _rng_states() -> tuple:
    return random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state(), torch.get_num_threads()


def test_a_run_after_lr_find_is_bit_for_bit_the_run_without_it(tmp_path):
    cfg = divekit.config(data="fashion-mnist-mini", model="mlp", model_options={"dropout": 0.2}, opt="sgd",
                         momentum=0.9, epochs=1, valid_fraction=0.1, augment_crop=1, seed=3)  # dropout and crops draw
    torch.set_num_threads(2)  # the sweep below asks for 1: it must hand 2 back
    first = divekit.train(cfg, runs_dir=tmp_path / "a", name="run")
    random.random(), np.random.rand(), torch.rand(1)  # the generators somewhere past their seeds
    before = _rng_states()
    result = divekit.lr_find(cfg.replace(threads=1), steps=40)
    after = _rng_states()
    assert before[0] == after[0] and before[1] == after[1] and torch.equal(before[2], after[2])
    assert after[3] == 2
    assert 1e-7 <= result.suggestion <= 10 and len(result.lrs) == len(result.losses) <= 40
    second = divekit.train(cfg, runs_dir=tmp_path / "b", name="run")
    assert (first.path / "model.safetensors").read_bytes() == (second.path / "model.safetensors").read_bytes()
    assert (first.path / "metrics.csv").read_text() == (second.path / "metrics.csv").read_text()
    (t1, m1), (t2, m2) = read_checkpoint(checkpoint_path(first.path)), read_checkpoint(checkpoint_path(second.path))
    assert t1.keys() == t2.keys() and any(k.startswith("optim.") for k in t1)
    assert all(torch.equal(t1[k], t2[k]) for k in t1)  # weights, optimizer state, random generators
    m1.pop("seconds"), m2.pop("seconds")
    assert m1 == m2


def test_the_command_prints_the_suggestion_and_draws_the_curve(tmp_path, capsys):
    out = tmp_path / "curve.png"
    assert main(["lr-find", "--data", "fashion-mnist-mini", "--model", "softmax", "--steps", "30",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "suggested lr:" in printed and "usable range:" in printed and str(out) in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["lr-find", "--data", "fashion-mnist-mini", "--name", "x"]) == 2
    assert "--name: lr-find writes no run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lr-find", "--steps", "2"])
    assert "--steps" in capsys.readouterr().err
