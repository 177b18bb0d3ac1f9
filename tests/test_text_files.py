"""Text from your own files: a CSV with text and label columns, or a folder of .txt files per class, through the
text pipeline (tokeniser, vocabulary), then predictions on a file of new texts."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from divekit.cli import main
from divekit.data.textfiles import is_text_folder, read_text_csv, read_text_folder, read_texts
from divekit.errors import DataError
from divekit.training.tasks import kind_of

TOPICS = {"sport": ["goal", "match", "team", "score", "coach"], "food": ["pasta", "spicy", "chef", "dinner", "taste"],
          "tech": ["laptop", "software", "chip", "robot", "code"]}
FILLER = ["the", "a", "was", "and", "it", "very", "today", "we", "this", "so"]


def sentence(rng: random.Random, words: list[str]) -> str:
    body = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
    for _ in range(2):
        body.insert(rng.randrange(len(body) + 1), rng.choice(words))
    return " ".join(body)


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Path:
    """``train.csv``/``test.csv`` (columns id, "review, text", topic) and ``folder/{train,test}/<topic>/*.txt``:
    three topics, each told by its own five words among filler words."""
    root, rng = tmp_path_factory.mktemp("texts"), random.Random(0)
    for split, n in (("train", 40), ("test", 15)):
        with open(root / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "review, text", "topic"])
            writer.writerows([i, sentence(rng, words), topic] for topic, words in TOPICS.items() for i in range(n))
        for topic, words in TOPICS.items():
            folder = root / "folder" / split / topic
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i:03d}.txt").write_text(sentence(rng, words), encoding="utf-8")
    return root


def test_readers_give_classes_and_texts_in_a_fixed_order(texts, tmp_path):
    train, column = read_text_csv(texts / "train.csv", "review, text", "topic")
    assert column == "topic" and train.classes == ("food", "sport", "tech") and len(train) == 120
    first = next(csv.DictReader((texts / "train.csv").open()))
    assert train.texts[0] == first["review, text"] and train.classes[train.labels[0]] == first["topic"] == "sport"
    splits = read_text_folder(texts / "folder")
    assert splits["train"].classes == ("food", "sport", "tech") and len(splits["test"]) == 45
    assert splits["train"].texts[0] == (texts / "folder" / "train" / "food" / "000.txt").read_text()
    flat = tmp_path / "flat"
    for cls in ("10", "9"):  # integer labels sort as numbers; IMDb's unlabelled folder is skipped
        (flat / cls).mkdir(parents=True)
        (flat / cls / "a.txt").write_text(f"text of {cls}")
    (flat / "unsup").mkdir()
    (flat / "unsup" / "b.txt").write_text("unlabelled")
    assert read_text_folder(flat)["train"].classes == ("10", "9") and read_text_folder(flat)["test"] is None
    numbers = tmp_path / "n.csv"
    numbers.write_text("text,label\na,10\nb,9\nc,2\n")
    assert read_text_csv(numbers, "text")[0].classes == ("2", "9", "10")  # the one other column is the label


def test_kind_follows_the_options_and_the_folder(texts, tmp_path):
    assert kind_of(str(texts / "train.csv")) == "tabular"
    assert kind_of(str(texts / "train.csv"), {"text_column": "review, text"}) == "text"
    assert kind_of(str(texts / "folder")) == "text" and is_text_folder(texts / "folder" / "train")
    assert not is_text_folder(tmp_path)


def test_bad_text_files_are_one_line_naming_the_file(texts, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label,other\nfine,a,x\nno label,,x\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 3: no label"):
        read_text_csv(bad, "text", "label")
    with pytest.raises(DataError, match="give --label-column"):
        read_text_csv(bad, "text")
    with pytest.raises(DataError, match=r"bad\.csv: text column 'review' not found; the columns are text, label"):
        read_text_csv(bad, "review")  # not "which column holds the labels?": the text column is what is wrong
    bad.write_text("text,label,other\nfine,b,x\nnew class,a,x\n")
    with pytest.raises(DataError, match=r"line 3: label 'a' is not one of the training classes \(b\)"):
        read_text_csv(bad, "text", "label", classes=("b",))
    (tmp_path / "c" / "x").mkdir(parents=True)
    (tmp_path / "c" / "x" / "1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"1\.txt: not UTF-8"):
        read_text_folder(tmp_path / "c")
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(DataError, match="no texts"):
        read_texts(tmp_path / "empty.txt")


def train(runs: Path, name: str, *args: str) -> Path:
    assert main(["train", *args, "--model", "textcnn", "--epochs", "5", "--batch-size", "16", "--lr", "0.01",
                 "--threads", "1", "--runs-dir", str(runs), "--name", name]) == 0
    return runs / name


def test_a_csv_trains_and_predicts_new_texts_from_a_file(texts, tmp_path, capsys):
    run = train(tmp_path, "csv", "--data", str(texts / "train.csv"), "--text-column", "review, text",
                "--label-column", "topic", "--test-csv", str(texts / "test.csv"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final"]["test_acc"] >= 0.8  # chance: 1/3
    meta = json.loads((run / "config.json").read_text())["meta"]
    assert meta["classes"] == ["food", "sport", "tech"] and meta["test_examples"] == 45
    (tmp_path / "new.txt").write_text("the chef made spicy pasta\n\nsoftware for a robot\nthe team scored a goal\n")
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), "--text-file", str(tmp_path / "new.txt"), "--out", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["input", "class", "probability", "class_2", "probability_2", "class_3", "probability_3"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("the chef made spicy pasta", "food"),
                                               ("software for a robot", "tech"), ("the team scored a goal", "sport")]
    assert all(float(r[2]) >= float(r[4]) >= float(r[6]) for r in rows[1:])
    # a CSV of texts: the run's own text column by default
    assert main(["predict", str(run), "--text-file", str(texts / "test.csv"), "--out", str(out)]) == 0
    predicted = [r[1] for r in list(csv.reader(out.open()))[1:]]
    truth = [r[2] for r in list(csv.reader((texts / "test.csv").open()))[1:]]
    assert sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth) == pytest.approx(
        summary["final"]["test_acc"])  # the same preprocessing as the run's own test pass
    capsys.readouterr()
    assert main(["predict", str(run), "--text", "a laptop chip"]) == 0
    assert capsys.readouterr().out.startswith("tech\t")


def test_a_folder_of_classes_trains_and_evaluates(texts, tmp_path, capsys):
    run = train(tmp_path, "folder", "--data", str(texts / "folder"))
    assert json.loads((run / "summary.json").read_text())["final"]["test_acc"] >= 0.8
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    assert "(45 examples)" in capsys.readouterr().out


def test_text_flags_that_do_not_apply_are_refused(texts, tmp_path, capsys):
    run = train(tmp_path, "csv", "--data", str(texts / "train.csv"), "--text-column", "review, text", "--label-column",
                "topic", "--epochs", "1")
    for args, message in ((["predict", str(run), "--text-column", "review, text"], "give --text-file too"),
                          (["train", "--data", str(texts / "folder"), "--test-csv", str(texts / "test.csv")],
                           "--test-csv is for a .csv dataset"),
                          (["train", "--data", "fashion-mnist-mini", "--text-column", "x"],
                           "--text-column and --label-column are for texts in a CSV")):
        capsys.readouterr()
        assert main(args) == 2
        assert message in capsys.readouterr().err


def test_a_few_short_texts_need_a_lower_min_freq_which_the_command_line_sets(tmp_path, capsys):
    """Six short reviews: no word is seen the book's 5 times, so the vocabulary would be empty; that is one line
    naming --min-freq, and --min-freq 1 (with --max-len) trains. Both are text-only options."""
    data = tmp_path / "few.csv"
    data.write_text("text,label\ngreat fun film,pos\nloved it,pos\nsuperb acting,pos\ndull plot,neg\nboring film,neg\n"
                    "awful acting,neg\n")
    assert main(["train", "--data", str(data), "--text-column", "text", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (f"error: {data}: no word appears 5 times or more in the 6 training texts, so "
                                       f"the vocabulary is empty; give more texts or a lower --min-freq (1 keeps "
                                       f"every word)\n")
    run = train(tmp_path / "runs", "few", "--data", str(data), "--text-column", "text", "--min-freq", "1",
                "--max-len", "8")
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["data_options"]["min_freq"] == 1 and saved["meta"]["in_shape"] == [8]
    assert len(json.loads((run / "vocab.json").read_text())["tokens"]) == 2 + 11  # <pad>, <unk>, 11 words
    assert main(["train", "--data", "fashion-mnist-mini", "--min-freq", "1"]) == 2
    assert "--min-freq and --max-len are for text data, not image data" in capsys.readouterr().err
