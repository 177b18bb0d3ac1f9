"""Tabular pipeline: CSV reading errors, a transform fitted on training rows only, unknown categories,
the saved transform, log-RMSE, and a whole train → predict round trip on a small synthetic CSV."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from divekit.cli import main
from divekit.data.tabular import TabularTransform, read_csv, target_values
from divekit.errors import ConfigError, DataError
from divekit.models.registry import MODELS, build_model
from divekit.training import tabular
from divekit.training.config import TrainConfig
from divekit.training.run import train_run
from divekit.training.tabular import log_rmse
from tests.helpers.synthetic import regression_csvs


def write(path, text: str | bytes):
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def one_line_error(path, match: str) -> str:
    with pytest.raises(DataError) as e:
        read_csv(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message and match in message, message
    return message


# --- reading ---------------------------------------------------------------------------------------------

def test_ragged_row_names_file_and_line(tmp_path):
    p = write(tmp_path / "ragged.csv", "a,b,y\n1,2,3\n4,5\n6,7,8\n")
    assert "2 fields, expected 3" in one_line_error(p, "line 3")


def test_empty_file_and_header_only(tmp_path):
    one_line_error(write(tmp_path / "empty.csv", "\n  \n"), "empty file")
    one_line_error(write(tmp_path / "header.csv", "a,b,y\n"), "no data rows")


def test_wrong_encoding_names_the_line(tmp_path):
    p = write(tmp_path / "latin1.csv", "a,city,y\n1,Paris,2\n3,K\xf6ln,4\n".encode("latin-1"))
    assert "not UTF-8" in one_line_error(p, "line 3")


def test_missing_file_and_duplicate_columns(tmp_path):
    one_line_error(tmp_path / "nope.csv", "file not found")
    one_line_error(write(tmp_path / "dup.csv", "a,a,y\n1,2,3\n"), "appears twice")


def test_quoted_fields_and_blank_lines_are_fine(tmp_path):
    t = read_csv(write(tmp_path / "ok.csv", '\ufeffa,name,y\n1,"Smith, J",2\n\n3,"x",4\n'))
    assert t.header == ["a", "name", "y"] and t.rows[0] == ["1", "Smith, J", "2"] and t.lines == [2, 4]


def test_target_errors(tmp_path):
    t = read_csv(write(tmp_path / "t.csv", "a,y\n1,2.5\n3,cheap\n"))
    with pytest.raises(DataError, match=r"line 3: target column 'y' must be a number, found 'cheap' \(a table's "
                                        r"target is a number to predict\)$"):
        target_values(t, "y")
    with pytest.raises(DataError, match=r"target column 'price' not found; the columns are a, y"):
        target_values(t, "price")


def test_a_text_column_with_word_labels_points_to_the_text_options(tmp_path, capsys):
    """A CSV of reviews labelled pos/neg, given without --text-column, names the options that classify it."""
    data = write(tmp_path / "reviews.csv", "id,review,sentiment\n1,a quiet moving film,pos\n2,dull and long,neg\n")
    assert main(["train", "--data", str(data), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {data}, line 2: target column 'sentiment' must be a number, found 'pos'; to classify "
                   f"texts by this column, name the column holding them: --text-column review --label-column "
                   f"sentiment")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- the transform ---------------------------------------------------------------------------------------

@pytest.fixture
def table(tmp_path):
    rows = ["id,size,colour,y", "1,1,red,10", "2,2,blue,20", "3,,red,30", "4,3,NA,40",
            "5,1000,green,50", "6,2000,purple,60"]  # rows 4-5 are held out: their sizes must not leak
    return read_csv(write(tmp_path / "tab.csv", "\n".join(rows) + "\n"))


def test_standardisation_uses_training_rows_only(table):
    tf = TabularTransform.fit(table, [0, 1, 2, 3], target="y", id_column="id")
    (size,) = tf.numeric
    assert size.name == "size"
    assert size.mean == pytest.approx(2.0) and size.std == pytest.approx(1.0)  # of 1, 2, 3 (missing skipped)
    x = tf.transform(table)
    assert x[:, 0].tolist() == pytest.approx([-1.0, 0.0, 0.0, 1.0, 998.0, 1998.0])  # missing → 0 = the mean


def test_prepare_fits_the_transform_on_its_training_rows_only(table, tmp_path):
    config = tabular.check(TrainConfig(data=str(table.path), model="linear", epochs=1, batch_size=2, opt="sgd",
                                       lr=1e-3, momentum=0.0, nesterov=False, task="regression",
                                       data_options={"target": "y", "id_column": "id"}))
    prepared = tabular.prepare(config, tabular.load(config), torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5]),
                               torch.device("cpu"))
    prepared.artifacts["transform.json"](tmp_path / "transform.json")
    transform = TabularTransform.load(tmp_path / "transform.json")
    assert transform.numeric[0].mean == pytest.approx(2.0)
    assert transform.categorical[0].categories == ["blue", "red"]  # green/purple only in validation
    assert len(prepared.loaders.train.labels) == 4 and len(prepared.loaders.valid.labels) == 2


def test_one_hot_with_missing_indicator_and_unknown_categories(table):
    tf = TabularTransform.fit(table, [0, 1, 2, 3], target="y", id_column="id")
    assert tf.feature_names == ["size", "colour=blue", "colour=red", "colour=<NA>"]
    x = tf.transform(table)
    assert x[:, 1:].tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert tf.unknown_categories(table) == {"colour": ["green", "purple"]}


def test_transform_json_round_trip_gives_the_same_features(table, tmp_path):
    tf = TabularTransform.fit(table, [0, 1, 2, 3], target="y", id_column="id", target_transform="log-standard")
    back = TabularTransform.load(tf.save(tmp_path / "transform.json"))
    assert back == tf
    np.testing.assert_array_equal(back.transform(table), tf.transform(table))
    write(tmp_path / "bad.json", '{"format": "something else"}')
    with pytest.raises(DataError, match="bad.json: not a divekit tabular transform"):
        TabularTransform.load(tmp_path / "bad.json")


def test_text_in_a_numeric_column_at_prediction_names_the_line(table, tmp_path):
    tf = TabularTransform.fit(table, target="y", id_column="id")
    new = read_csv(write(tmp_path / "new.csv", "id,size,colour\n7,5,red\n8,big,red\n"))
    with pytest.raises(DataError, match=r"new.csv, line 3: column 'size' is numeric in the training data"):
        tf.transform(new)


def test_target_transforms_use_training_rows_and_invert(table):
    tf = TabularTransform.fit(table, [0, 1, 2], target="y", target_transform="log-standard")
    logs = np.log([10.0, 20.0, 30.0])
    assert tf.target_mean == pytest.approx(logs.mean()) and tf.target_std == pytest.approx(logs.std(ddof=1))
    y = np.array([10.0, 200.0])
    np.testing.assert_allclose(tf.encode_target(y), (np.log(y) - logs.mean()) / logs.std(ddof=1))
    for kind in ("none", "log", "standard", "log-standard"):
        tf = TabularTransform.fit(table, target="y", target_transform=kind)
        np.testing.assert_allclose(tf.decode(tf.encode_target(y)), y)
    with pytest.raises(DataError, match="positive"):
        tf.encode_target(np.array([1.0, 0.0]))
    with pytest.raises(ConfigError, match="target transform must be one of"):
        TabularTransform.fit(table, target="y", target_transform="sqrt")


def test_log_rmse_is_the_books_formula():
    pred, y = np.array([100.0, 0.5, 300.0]), np.array([110.0, 2.0, 250.0])
    expected = math.sqrt(np.mean((np.log(np.maximum(pred, 1.0)) - np.log(y)) ** 2))
    assert log_rmse(pred, y) == pytest.approx(expected, rel=1e-12)


def test_tabular_models_are_registered():
    build_model("linear", (7,), 1)
    assert MODELS["linear"].kind == "tabular" and MODELS["tabular-mlp"].kind == "tabular"
    net = build_model("tabular-mlp", (7,), 1, hidden=(16, 8), dropout=0.3)
    assert net(torch.zeros(4, 7)).shape == (4, 1)
    assert sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 2


# --- train → predict -------------------------------------------------------------------------------------

def test_train_then_predict_writes_one_row_per_test_row(tmp_path, capsys):
    train_csv, test_csv = regression_csvs(tmp_path)
    config = TrainConfig(data=str(train_csv), model="linear", epochs=60, batch_size=16, opt="adam", lr=0.5,
                         weight_decay=0.0, schedule="constant", warmup=0, valid_fraction=0.2, task="regression",
                         label_smoothing=0.0, data_options={"target": "y", "id_column": "id", "test": str(test_csv)})
    run_dir, state = train_run(config, tmp_path / "runs", "syn")
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "transform.json", "metrics.csv", "model.safetensors", "curves.png",
            "summary.json", "report.html"} <= names
    assert state.history[-1]["valid_log_rmse"] < 0.05
    out = tmp_path / "submission.csv"
    assert main(["predict", str(run_dir), "--out", str(out)]) == 0
    assert "never-seen" in capsys.readouterr().out  # reported, not a crash
    lines = out.read_text().splitlines()
    assert lines[0] == "id,y" and len(lines) == 21 and lines[1].startswith("10000,")
    pred = float(lines[1].split(",")[1])  # test row 0: kind z
    assert pred == pytest.approx(50 + 10 * float(read_csv(test_csv).rows[0][1])
                                 - 5 * float(read_csv(test_csv).rows[0][2]), abs=2.0)


def test_malformed_csv_through_the_cli_is_one_error_line(tmp_path, capsys):
    bad = write(tmp_path / "bad.csv", "a,y\n1,2\n3\n")
    assert main(["kfold", "--data", str(bad), "--epochs", "1", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and f"{bad}, line 3:" in err


def test_house_prices_train_then_kaggle_submission(tmp_path, shared_data, capsys):
    if not (shared_data / "kaggle-house-prices").is_dir():
        pytest.skip(f"kaggle-house-prices not found under {shared_data}")
    assert main(["train", "--data", "house-prices", "--model", "linear", "--opt", "adam", "--lr", "5",
                 "--weight-decay", "0", "--batch-size", "64", "--epochs", "2", "--threads", "1",
                 "--runs-dir", str(tmp_path), "--name", "hp"]) == 0
    meta = json.loads((tmp_path / "hp" / "config.json").read_text())["meta"]
    assert meta["train_examples"] == 1460 and meta["valid_examples"] == 0  # all training rows
    out = tmp_path / "submission.csv"
    assert main(["predict", str(tmp_path / "hp"), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "Id,SalePrice" and len(lines) == 1 + 1459
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1461, 2920))
    assert all(math.isfinite(float(line.split(",")[1])) for line in lines[1:])
