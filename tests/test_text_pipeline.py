"""The text pipeline end to end on a small synthetic IMDb archive: CLI train → run directory → predict."""

from __future__ import annotations

import json

import pytest
import torch

from divekit import api
from divekit.cli import main
from divekit.data.text import Vocab
from divekit.errors import ConfigError
from divekit.training import text
from divekit.training.run import train_run
from divekit.training.text import classify
from tests.helpers.synthetic import imdb_folder


@pytest.fixture(scope="module")
def imdb_dir(tmp_path_factory):
    """``DIR/aclImdb/aclImdb_train_test.tar.gz`` with 120 train and 60 test reviews, and a tiny GloVe file."""
    return imdb_folder(tmp_path_factory.mktemp("text-data"))


def train(imdb_dir, tmp_path, *extra: str) -> str:
    runs = tmp_path / "runs"
    args = ["train", "--data", "imdb", "--data-dir", str(imdb_dir), "--runs-dir", str(runs), "--name", "r",
            "--threads", "1", *extra]
    assert main(args) == 0
    return str(runs / "r")


def train_bilstm(imdb_dir, tmp_path) -> str:
    """Through the API: model options (a small LSTM, fine-tuned vectors) have no CLI flags."""
    config = api.config(data="imdb", data_dir=str(imdb_dir), model="bilstm", epochs=6, lr=0.02, batch_size=16,
                        threads=1, data_options={"embedding": str(imdb_dir / "glove8.txt"), "max_len": 40},
                        model_options={"num_hiddens": 16, "freeze": False})
    run_dir, state = train_run(config, tmp_path / "runs", "r")
    assert state.model.embedding.weight.requires_grad  # freeze=False reached the model
    return str(run_dir)


@pytest.mark.parametrize("model", ["textcnn", "bilstm"])
def test_train_then_predict_text(imdb_dir, tmp_path, capsys, model):
    if model == "textcnn":
        run = train(imdb_dir, tmp_path, "--model", model, "--embedding", str(imdb_dir / "glove8.txt"),
                    "--epochs", "6", "--opt", "adam", "--lr", "0.01", "--batch-size", "16")
    else:
        run = train_bilstm(imdb_dir, tmp_path)
    out = capsys.readouterr()
    assert "of the" in out.out and "vocabulary words found" in out.out  # the coverage line
    for f in ("config.json", "metrics.csv", "model.safetensors", "curves.png", "summary.json", "vocab.json"):
        assert (tmp_path / "runs" / "r" / f).is_file(), f
    meta = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())["meta"]
    assert meta["embedding_coverage"] == pytest.approx(18 / 22) and meta["vocab_size"] == 24
    assert meta["build_options"]["embed_size"] == 8
    summary = json.loads((tmp_path / "runs" / "r" / "summary.json").read_text())
    assert summary["final"]["test_acc"] >= 0.8, summary  # an easy task (chance: 0.5)

    assert main(["predict", run, "--text", "A great, wonderful film!", "--text", "Boring and awful."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("pos\t") and lines[1].startswith("neg\t")
    assert 0.5 < float(lines[0].split("\t")[1]) <= 1.0
    assert main(["predict", run, "--data-dir", str(imdb_dir)]) == 0
    rows = (tmp_path / "runs" / "r" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "index,label,class,probability,true_label" and len(rows) == 61
    capsys.readouterr()
    assert api.load_run(run).evaluate(device="cpu")["acc"] == summary["final"]["test_acc"]  # same as in training
    assert main(["eval", run, "--data-dir", str(imdb_dir), "--device", "cpu"]) == 0
    assert f"test accuracy {summary['final']['test_acc']:.4f}" in capsys.readouterr().out
    assert (tmp_path / "runs" / "r" / "report.html").is_file()


def test_saved_vocabulary_maps_new_text_like_training(imdb_dir, tmp_path):
    run = train(imdb_dir, tmp_path, "--model", "textcnn", "--epochs", "1")
    finished = api.load_run(run).open("cpu")
    config, meta, vocab = finished.config, finished.meta, finished.vocab
    assert vocab.idx_to_token == Vocab.load(tmp_path / "runs" / "r" / "vocab.json").idx_to_token
    assert config.data_options["max_len"] == 500 and meta["embedding"] is None
    assert (config.opt, config.lr, config.batch_size) == ("adam", 0.001, 64)  # the textcnn recipe's
    probs = classify(finished.model, vocab, ["great great", "never seen words here", ""], config.data_options)
    assert probs.shape == (3, 2) and torch.allclose(probs.sum(1), torch.ones(3))
    assert run.endswith("r")


def test_text_recipes_and_refusals():
    config = api.config(data="imdb", epochs=4)
    assert (config.model, config.opt, config.lr, config.batch_size, config.epochs) == ("bilstm", "adam", 0.01, 64, 4)
    assert config.data_options["max_len"] == 500 and not config.tta_flip
    cnn = api.config(data="imdb", model="textcnn", lr=0.003)  # a flag beats the recipe, the rest stays
    assert (cnn.opt, cnn.lr, cnn.batch_size, cnn.epochs) == ("adam", 0.003, 64, 5)
    with pytest.raises(ConfigError, match="not a text model"):
        text.check(api.config(data="imdb", model="lenet"))
    with pytest.raises(ConfigError, match="not text options"):
        text.check(api.config(data="imdb", model="bilstm", data_options={"maxlen": 10}))
    with pytest.raises(ConfigError, match="max_len"):
        text.check(api.config(data="imdb", model="bilstm", data_options={"max_len": 0}))
