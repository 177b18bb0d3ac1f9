"""K-fold index sets and the ``divekit kfold`` command (few epochs; the 100-epoch run is in docs/benchmarks.md)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest
import torch

from divekit.cli import main
from divekit.data.kfold import KFold, StratifiedKFold
from divekit.errors import ConfigError


def assert_partition(splits, n, k):
    assert len(splits) == k
    valid = torch.cat([v for _, v in splits])
    assert torch.equal(valid.sort().values, torch.arange(n))  # every example validated exactly once
    for train, v in splits:
        assert torch.equal(torch.cat([train, v]).sort().values, torch.arange(n))  # disjoint, together all
    sizes = [len(v) for _, v in splits]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(("n", "k"), [(10, 2), (11, 5), (1460, 5), (97, 10), (10, 10)])
def test_kfold_partitions_every_example_exactly_once(n, k):
    assert_partition(list(KFold(k, seed=3).split(n)), n, k)
    assert_partition(list(KFold(k, shuffle=False).split(n)), n, k)


def test_kfold_is_seeded_and_unshuffled_folds_are_contiguous():
    a, b, c = (list(KFold(5, seed=s).split(50)) for s in (1, 1, 2))
    assert all(torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    first_valid = next(iter(KFold(5, shuffle=False).split(50)))[1]
    assert torch.equal(first_valid, torch.arange(10))


def test_stratified_folds_keep_class_ratios():
    labels = torch.tensor([0] * 120 + [1] * 60 + [2] * 20)[torch.randperm(200, generator=torch.Generator()
                                                                           .manual_seed(0))]
    splits = list(StratifiedKFold(5, seed=1).split(labels))
    assert_partition(splits, 200, 5)
    for _, valid in splits:
        counts = torch.bincount(labels[valid], minlength=3).tolist()
        assert counts == [24, 12, 4]  # 60 % / 30 % / 10 % in every fold, exactly
    uneven = torch.tensor([0] * 13 + [1] * 7)
    for _, valid in StratifiedKFold(3).split(uneven):
        counts = torch.bincount(uneven[valid], minlength=2)
        assert (counts - torch.tensor([13, 7]) / 3).abs().max() < 1  # ±1 per class when it does not divide


def test_bad_k_and_labels_are_config_errors():
    with pytest.raises(ConfigError, match="≥ 2"):
        KFold(1)
    with pytest.raises(ConfigError, match="more folds than the 3"):
        list(KFold(5).split(3))
    with pytest.raises(ConfigError, match="integer class labels"):
        StratifiedKFold(2).fold_of(torch.rand(10))


def test_cli_module_does_not_import_torch():
    code = "import sys, divekit.cli.kfold; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def summary_of(tmp_path, name):
    run_dir = tmp_path / name
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def test_kfold_house_prices_writes_folds_and_mean_std(tmp_path, shared_data, capsys):
    if not (shared_data / "kaggle-house-prices").is_dir():
        pytest.skip(f"kaggle-house-prices not found under {shared_data}")
    assert main(["kfold", "--data", "house-prices", "--model", "linear", "--k", "3", "--epochs", "3",
                 "--runs-dir", str(tmp_path), "--name", "hp", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "fold 3:" in out and "mean ± std over 3 folds" in out
    run_dir, summary = summary_of(tmp_path, "hp")
    assert summary["k"] == 3 and summary["metric"] == "log_rmse" and not summary["stratified"]
    folds = summary["folds"]
    assert [f["valid_examples"] for f in folds] == [487, 487, 486]
    for key in ("train_log_rmse", "valid_log_rmse"):
        values = [f["final"][key] for f in folds]
        assert summary["mean"][key] == pytest.approx(statistics.fmean(values))
        assert summary["std"][key] == pytest.approx(statistics.stdev(values))
    assert isinstance(summary["overfitting"], str) and summary["overfitting"].endswith(".")
    for i in (1, 2, 3):
        lines = (run_dir / f"fold-{i}" / "metrics.csv").read_text().splitlines()
        assert len(lines) == 4 and "valid_log_rmse" in lines[0]
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["opt"], config["lr"], config["batch_size"], config["task"]) == ("adam", 5.0, 64, "regression")
    assert (run_dir / "curves.png").stat().st_size > 0


def test_kfold_images_is_stratified_with_early_stopping(tmp_path, capsys):
    assert main(["kfold", "--data", "fashion-mnist-mini", "--model", "softmax", "--k", "2", "--epochs", "2",
                 "--patience", "1", "--runs-dir", str(tmp_path), "--name", "img", "--threads", "1"]) == 0
    _, summary = summary_of(tmp_path, "img")
    assert (tmp_path / "img" / "report.html").is_file()
    assert summary["stratified"] and summary["metric"] == "loss"
    assert [f["valid_examples"] for f in summary["folds"]] == [2500, 2500]
    assert {"train_acc", "valid_acc", "valid_loss"} <= set(summary["mean"])
    assert summary["folds"][0]["early_stopping"]["monitor"] == "valid_loss"


@pytest.mark.parametrize(("extra", "message"), [
    (["--valid-fraction", "0.2"], "does not apply to kfold"),
    (["--stratify"], "regression dataset"),
    (["--k", "1"], "argument --k: expected an integer from 2 to 100000, got '1'"),
    (["--k", "11"], "--k 11: expected between 2 and the 10 training examples"),
    (["--patience", "0"], "argument --patience: expected an integer from 1 to 10000, got '0'"),
    (["--monitor", "nosuch"], "--monitor nosuch: expected a train_ or valid_ metric"),
])
def test_kfold_cli_errors(tmp_path, capsys, extra, message):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("a,y\n" + "".join(f"{i},{2 * i}\n" for i in range(10)))
    try:
        rc = main(["kfold", "--data", str(csv_path), "--epochs", "1", "--runs-dir", str(tmp_path), *extra])
    except SystemExit as e:  # refused by the argument parser itself
        rc = e.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["d.csv"]  # refused before any run directory was made


@pytest.mark.parametrize("flag", ["--ddp", "--tensorboard", "--resume=r", "--checkpoint-every=5", "--on-nan=skip"])
def test_kfold_does_not_offer_single_run_options(flag, capsys):
    with pytest.raises(SystemExit) as e:
        main(["kfold", flag])
    assert e.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
