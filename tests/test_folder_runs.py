"""Runs on image folders end to end: train (validation split made, statistics from the training rows only),
evaluate, predict on new files with the run's own preprocessing, report the most confidently wrong first, and
export files that reproduce the run without divekit."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from divekit import api
from divekit.cli import main
from divekit.errors import DataError
from divekit.training.tasks import kind_of
from tests.helpers.imagefolders import colour_folder, fashion, fashion_folder

FAST = dict(epochs=2, batch_size=64, threads=1, seed=1)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory) -> api.Run:
    root = tmp_path_factory.mktemp("folder")
    data = fashion_folder(root / "clothes", train_per_class=60, test_per_class=20)
    (data / "train" / "bag").rename(data / "train" / "bag, or purse")  # odd but valid names work
    (data / "test" / "bag").rename(data / "test" / "bag, or purse")
    return api.train(data=str(data), runs_dir=root / "runs", name="clothes", **FAST)


def test_a_folder_run_learns_with_a_stratified_validation_split(folder_run):
    meta, final = folder_run.meta, folder_run.final
    assert kind_of(folder_run.config.data) == "image-folder" and folder_run.config.valid_fraction == 0.1
    assert (meta["train_examples"], meta["valid_examples"], meta["test_examples"]) == (540, 60, 200)
    assert meta["in_shape"] == [1, 28, 28] and "bag, or purse" in meta["classes"]
    assert final["test_acc"] > 0.5 and final["valid_acc"] > 0.5  # 10 classes: chance is 0.1
    assert folder_run.evaluate()["acc"] == pytest.approx(final["test_acc"], abs=0.011)


def test_normalisation_comes_from_the_training_rows_only(folder_run, tmp_path):
    data = Path(folder_run.config.data)
    copy = shutil.copytree(data, tmp_path / "copy")
    for path in (copy / "test").rglob("*.png"):  # white test images must not move the statistics
        Image.new("L", (28, 28), 255).save(path)
    run = api.train(data=str(copy), runs_dir=tmp_path / "runs", epochs=1, batch_size=64, threads=1, seed=1)
    assert run.meta["mean"] == folder_run.meta["mean"] and run.meta["std"] == folder_run.meta["std"]


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_predict_on_new_files_uses_the_runs_preprocessing(folder_run, tmp_path):
    own = {r["input"]: r for r in _rows(folder_run.write_predictions(tmp_path / "own.csv")[0])}
    test = Path(folder_run.config.data) / "test"
    out = tmp_path / "new.csv"
    assert main(["predict", str(folder_run.path), str(test), "--out", str(out)]) == 0
    new = _rows(out)
    assert len(new) == 200 and set(new[0]) >= {"input", "class", "probability", "class_5", "probability_5"}
    for row in new:
        same = own[f"test/{row['input']}"]
        assert (row["class"], row["probability"], row["class_2"]) == (same["class"], same["probability"],
                                                                     same["class_2"])


def test_the_report_shows_the_most_confidently_wrong_first_with_file_names(folder_run):
    html = folder_run.report().read_text()
    assert "most confidently wrong first" in html and "test/" in html.split('id="mistakes"')[1]
    prediction = folder_run.open().report_predictions()
    wrong = (prediction.labels != prediction.predicted).nonzero().flatten()
    first = int(wrong[prediction.losses[wrong].argmax()])
    assert f"#{first}<br>{prediction.names[first]}" in html


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["pt2", "torchscript", "onnx"])
def test_export_reproduces_the_run(folder_run, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    result = folder_run.export(fmt, tmp_path / f"clothes.{fmt}", samples=64)
    assert result.max_diff <= 1e-4 and result.examples == 64 and result.path.is_file()
    side = json.loads(result.sidecar.read_text())
    assert side["classes"] == folder_run.meta["classes"] and side["input"]["shape"] == ["batch", 1, 28, 28]
    pixels = torch.from_numpy(fashion("test")[0][:5, None].copy())
    if fmt == "onnx":  # the file alone, with onnxruntime
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        probs = torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    else:
        module = torch.jit.load(result.path) if fmt == "torchscript" else torch.export.load(result.path).module()
        probs = module(pixels)
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)


def test_a_colour_folder_of_differing_sizes_trains_predicts_and_exports(tmp_path):
    data = colour_folder(tmp_path / "colour", per_class=30, classes=4)
    run = api.train(data=str(data), runs_dir=tmp_path / "runs", epochs=3, batch_size=32, threads=1, seed=0)
    side = run.meta["image_size"][0]
    assert run.meta["channels"] == 3 and run.meta["in_shape"] == [3, side, side] and 20 <= side <= 48
    assert run.meta["test_examples"] == 0 and run.evaluate()["split"] == "valid"
    assert run.final["valid_acc"] > 0.5  # 4 classes: chance is 0.25
    table = run.predict(next(data.rglob("*.jpg")))
    assert len(table.rows) == 1 and table.rows[0][1] in run.meta["classes"]
    assert run.export("pt2", tmp_path / "colour.pt2", samples=12).max_diff <= 1e-4
    moved = shutil.move(data, tmp_path / "elsewhere")  # the folder moved: --data-dir finds it
    assert api.load_run(run.path).evaluate(data_dir=str(moved))["acc"] == run.final["valid_acc"]


def test_an_idx_run_predicts_on_image_files_as_on_its_own_test_set(tmp_path):
    run = api.train(data="fashion-mnist-mini", model="mlp", epochs=1, runs_dir=tmp_path / "runs", threads=1)
    images, _, _ = fashion("test")
    (tmp_path / "new").mkdir()
    for i in (0, 7):
        Image.fromarray(images[i]).save(tmp_path / "new" / f"{i}.png")
    own = run.predict().rows
    table = run.predict(tmp_path / "new" / "7.png")
    assert (table.rows[0][1], table.rows[0][2]) == (own[7][2], own[7][3])
    assert [r[0] for r in run.predict(tmp_path / "new").rows] == ["0.png", "7.png"]
    # several files and folders at once, as a shell glob gives them: in the order given, each named as given
    (tmp_path / "more").mkdir()
    Image.fromarray(images[3]).save(tmp_path / "more" / "3.png")
    out = tmp_path / "p.csv"
    assert main(["predict", str(run.path), str(tmp_path / "new" / "7.png"), str(tmp_path / "more"),
                 str(tmp_path / "new" / "0.png"), "--out", str(out)]) == 0
    rows = list(csv.reader(out.open()))[1:]
    assert [r[0] for r in rows] == [str(tmp_path / "new" / "7.png"), str(tmp_path / "more" / "3.png"),
                                    str(tmp_path / "new" / "0.png")]
    assert [(r[1], r[2]) for r in rows] == [(own[i][2], own[i][3]) for i in (7, 3, 0)]



def test_predicting_on_a_folder_with_stray_files_stops_or_skips_them(tmp_path, capsys):
    """A folder of new images with a thumbnail database and a broken file beside them: one line naming the first
    bad file and --skip-bad; with --skip-bad, the images' predictions and the bad files named on stderr."""
    run = api.train(data="fashion-mnist-mini", model="mlp", epochs=1, runs_dir=tmp_path / "runs", threads=1)
    images, _, _ = fashion("test")
    new = tmp_path / "new"
    new.mkdir()
    for i in (0, 7):
        Image.fromarray(images[i]).save(new / f"{i}.png")
    (new / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    (new / "9.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["predict", str(run.path), str(new)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {new / '9.png'}: ") and err.endswith("(1 more file that is not an image); "
                                                                         "--skip-bad leaves such files out")
    out = tmp_path / "p.csv"
    assert main(["predict", str(run.path), str(new), "--skip-bad", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert [r[0] for r in csv.reader(out.open())][1:] == ["0.png", "7.png"]
    assert "(2 images of" in captured.out and "; 2 skipped)" in captured.out
    assert captured.err.startswith(f"skipped 2 files that are not images (--skip-bad), the first: {new / '9.png'}")
    with pytest.raises(DataError, match="no usable image files to predict on"):
        run.predict(new / "Thumbs.db", skip_bad=True)
    assert main(["predict", str(run.path), "--skip-bad"]) == 2  # nothing to skip files of
    assert "--skip-bad leaves bad files out of the image files" in capsys.readouterr().err

def test_a_bad_file_stops_the_command_with_one_line(tmp_path, capsys):
    data = fashion_folder(tmp_path / "clothes", train_per_class=3, test_per_class=1)
    (data / "train" / "coat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["train", "--data", str(data), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {data / 'train' / 'coat' / 'broken.png'}: ")
    assert not (tmp_path / "runs").exists()
