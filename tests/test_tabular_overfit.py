"""The polynomial under/over-fitting lesson (``divekit scratch overfit``, book §4.4)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from divekit.cli import main
from divekit.scratch.lessons_overfit import TRUE_W, poly_data, train_poly


def test_poly_features_are_scaled_powers_and_labels_follow_the_true_weights():
    x, y = poly_data(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 20) and torch.equal(x[:, 0], torch.ones(50))
    z = x[:, 1]
    for i in (2, 3, 7):
        torch.testing.assert_close(x[:, i], z ** i / math.factorial(i))
    clean = sum(w * x[:, i] for i, w in enumerate(TRUE_W))
    noise = y - clean
    assert noise.abs().max() < 0.5 and 0.05 < noise.std() < 0.2  # N(0, 0.1²)


def test_the_right_model_recovers_the_weights_and_the_flexible_one_overfits_few_examples():
    g = torch.Generator().manual_seed(1)
    x, y = poly_data(200, g)
    w, history = train_poly(x[:100, :4], y[:100], x[100:, :4], y[100:], 250, g)
    torch.testing.assert_close(w, torch.tensor(TRUE_W), atol=0.1, rtol=0)
    assert history[-1]["valid_loss"] < 0.03
    _, history = train_poly(x[:10], y[:10], x[100:], y[100:], 1500, g)
    assert history[-1]["valid_loss"] > 5 * history[-1]["train_loss"]


def test_scratch_overfit_writes_curves_and_a_sentence_per_variant(tmp_path, capsys):
    assert main(["scratch", "overfit", "--epochs", "3", "--runs-dir", str(tmp_path)]) == 0
    run_dir = tmp_path / "scratch-overfit"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= {"normal", "underfit", "overfit", "overfit-10"}
    assert all(isinstance(summary[v]["overfitting"], str) for v in ("normal", "overfit-10"))
    assert summary["overfit-10"]["train_examples"] == 10 and summary["underfit"]["features"] == 2
    assert (run_dir / "overfit.png").stat().st_size > 0
    assert "-- underfit" in capsys.readouterr().out


@pytest.mark.parametrize("lesson", ["overfit"])
def test_lesson_is_listed(lesson, capsys):
    assert main(["scratch"]) == 0
    assert f"  {lesson} " in capsys.readouterr().out
