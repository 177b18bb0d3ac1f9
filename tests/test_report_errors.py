"""``divekit report`` and ``divekit predict`` on bad output paths and damaged metrics: exit 2, file named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from divekit.cli import main
from divekit.training.config import TrainConfig
from divekit.training.run import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real (tiny) run: softmax regression on the bundled Fashion-MNIST sample, one epoch."""
    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=1, lr=0.1, threads=1,
                         precision="fp32", augment_flip=False, tta_flip=False)
    run, _ = train_run(config, tmp_path_factory.mktemp("runs"), "softmax-mini")
    return run


@pytest.mark.parametrize("command", ["report", "predict"])
def test_out_naming_a_directory_is_refused_and_the_directory_kept(command, run_dir, tmp_path, capsys):
    out = tmp_path / "somewhere"
    out.mkdir()
    (out / "kept.txt").write_text("kept")
    assert main([command, str(run_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: output path {out} is a directory; expected a file path" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["kept.txt"] and [p.name for p in tmp_path.iterdir()] == ["somewhere"]


@pytest.mark.parametrize(("content", "expected"), [
    (b"epoch,step,train_loss\n1,20,0.5\xe9\n", "not UTF-8 text: byte 0xe9 at line 2, column 9"),
    (b"epoch,step,train_loss\n1,20,abc\n", "line 2, column 3 ('train_loss'): expected a number, got 'abc'"),
])
def test_damaged_metrics_name_the_file_line_and_column(content, expected, run_dir, tmp_path, capsys):
    damaged = shutil.copytree(run_dir, tmp_path / "damaged")
    (damaged / "metrics.csv").write_bytes(content)
    assert main(["report", str(damaged), "--out", str(tmp_path / "r.html")]) == 2
    assert f"error: {damaged / 'metrics.csv'}: {expected}" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
