"""Reports of runs whose metrics hold values at float's limits: huge, infinite or not a number."""

from __future__ import annotations

import math

import pytest

from divekit.cli import main
from divekit.report.figures import PLOT_LIMIT, _column, curves_png, lr_png, progress_png
from divekit.runs import read_metrics_csv, write_json

METRICS = """epoch,train_loss,valid_loss,train_acc,lr
1,1e308,0.5,0.1,0.1
2,-inf,nan,0.2,1e308
3,nan,-1.7e308,inf,-inf
4,0.25,0.3,0.4,0.01
"""


@pytest.fixture
def extreme_run(tmp_path):
    """A hand-made run directory: config.json, a metrics.csv at float's limits, a summary.json with NaNs."""
    run = tmp_path / "extreme"
    write_json(run / "config.json", {"config": {"model": "mlp", "data": "fashion-mnist"}, "meta": {}})
    (run / "metrics.csv").write_text(METRICS, encoding="utf-8")
    write_json(run / "summary.json", {"final": {"epoch": 4, "train_loss": math.nan, "valid_loss": math.inf,
                                                "train_acc": 0.4}, "train_seconds": 1.5})
    return run


def test_non_finite_points_are_gaps_and_huge_ones_are_clipped(extreme_run):
    history = read_metrics_csv(extreme_run / "metrics.csv")
    train = _column(history, "train_loss")
    assert train[0] == PLOT_LIMIT and math.isnan(train[1]) and math.isnan(train[2]) and train[3] == 0.25
    assert _column(history, "valid_loss")[2] == -PLOT_LIMIT
    assert math.isnan(_column([{"epoch": 1}], "lr")[0])  # missing: NaN, a gap


def test_every_figure_renders(extreme_run):
    history = read_metrics_csv(extreme_run / "metrics.csv")
    for png in (curves_png({"": history}), lr_png({"a": history, "b": history[:2]}), progress_png(history, 5)):
        assert png.startswith(b"\x89PNG")


def test_the_report_is_written(extreme_run, capsys):
    assert main(["report", str(extreme_run), "--no-predictions"]) == 0
    html = (extreme_run / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 1 and "error" not in capsys.readouterr().err


def test_a_comparison_with_an_extreme_run_is_written(extreme_run, tmp_path):
    other = tmp_path / "plain"
    write_json(other / "config.json", {"config": {"model": "softmax", "data": "fashion-mnist"}, "meta": {}})
    (other / "metrics.csv").write_text("epoch,train_loss,lr\n1,0.9,0.1\n2,0.7,0.1\n", encoding="utf-8")
    out = tmp_path / "compare.html"
    assert main(["report", str(extreme_run), str(other), "--out", str(out)]) == 0
    assert "data:image/png;base64," in out.read_text(encoding="utf-8")
