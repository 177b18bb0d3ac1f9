"""Run names, output paths and metrics.csv: bad input gets one clear error naming the argument or file."""

from __future__ import annotations

import pytest

from divekit.cli import main
from divekit.errors import ConfigError
from divekit.runs import default_run_name, new_run_dir, read_metrics_csv, write_text
from divekit.training.rundir import read_metrics


def test_writing_to_an_existing_directory_names_it_and_keeps_it(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "kept.txt").write_text("kept")
    with pytest.raises(ConfigError, match=r"output path .*out is a directory; expected a file path"):
        write_text(target, "text")
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary file is left behind"
    assert (target / "kept.txt").read_text() == "kept"


def test_writing_below_a_file_names_the_path(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ConfigError, match="a file stands in its path"):
        write_text(tmp_path / "plain" / "out.csv", "text")
    assert (tmp_path / "plain").read_text() == "x"


def test_a_folder_no_file_can_be_written_in_is_one_line_naming_the_output(tmp_path, monkeypatch, capsys):
    """A read-only folder (simulated: the tests may run as root, who may write anywhere), or a special one like
    /proc: the command names the output and why, instead of a traceback."""
    import tempfile

    run = tmp_path / "runs" / "r"
    assert main(["train", "--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "1", "--threads", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--name", "r"]) == 0
    capsys.readouterr()

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = tmp_path / "ro" / "report.html"
    assert main(["report", str(run), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {out}: cannot write a file in {out.parent} (Permission denied)\n"
    with pytest.raises(ConfigError, match=r"cannot write a file in .* \(Permission denied\)"):
        write_text(tmp_path / "p.csv", "text")


@pytest.mark.parametrize("name", ["../escaped", "a/b", "a\\b", "", ".", "..", "nul\0byte"])
def test_run_names_must_be_one_folder_name(tmp_path, name):
    root = tmp_path / "runs"
    with pytest.raises(ConfigError, match=r"--name .*expected a single folder name"):
        new_run_dir(root, name)
    assert list(tmp_path.iterdir()) == [], "nothing is created, inside the root or next to it"


def test_default_names_of_paths_stay_one_folder(tmp_path):
    name = default_run_name("textcnn-/data/imdb\\x")
    assert "/" not in name and "\\" not in name
    assert new_run_dir(tmp_path, name).parent == tmp_path


def test_train_refuses_an_escaping_name(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "--data", "fashion-mnist-mini", "--epochs", "1", "--runs-dir", str(runs),
                 "--name", "../escaped"]) == 2
    assert "--name '../escaped'" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists()


def test_metrics_are_parsed(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss,test_acc\n1,20,0.5,\n\n2,40,inf,0.75\n", encoding="utf-8")
    expected = [{"epoch": 1, "step": 20, "train_loss": 0.5},  # an empty cell is left out, a blank line skipped
                {"epoch": 2, "step": 40, "train_loss": float("inf"), "test_acc": 0.75}]
    assert read_metrics_csv(path) == read_metrics(tmp_path) == expected


@pytest.mark.parametrize(("content", "expected"), [
    (b"epoch,step,train_loss\n1,20,0.5\xe9\n", r"not UTF-8 text: byte 0xe9 at line 2, column 9"),
    (b"epoch,step,train_loss\n1,20,0.5\n2,40,abc\n", r"line 3, column 3 \('train_loss'\): expected a number, "
                                                      r"got 'abc'"),
    (b"epoch,step,train_loss\n1.5,20,0.5\n", r"line 2, column 1 \('epoch'\): expected an integer, got '1.5'"),
    (b"epoch,step\n1,20,0.5\n", r"line 2 has 3 cells, but the header names 2 columns"),
])
def test_bad_metrics_name_the_file_line_and_column(tmp_path, content, expected):
    (tmp_path / "metrics.csv").write_bytes(content)
    with pytest.raises(ConfigError, match=r"metrics\.csv: " + expected):
        read_metrics(tmp_path)
