"""``divekit report``: the self-contained HTML report of a run, k-fold runs, comparisons, live.png."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import torch

from divekit import api
from divekit.cli import main
from divekit.report.compare import config_rows, write_comparison
from divekit.report.html import esc, table
from divekit.report.live import LivePlot
from divekit.report.rundata import load_run_data
from divekit.report.single import write_report
from divekit.runs import write_json
from divekit.training.config import TrainConfig
from divekit.training.evaluate import evaluate
from divekit.training.fit import fit
from divekit.training.run import train_run

PNG = b"\x89PNG\r\n\x1a\n"


def images_in(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real (tiny) run: softmax regression on the bundled Fashion-MNIST sample, 2 epochs, 20% validation."""
    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=2, lr=0.1, schedule="constant",
                         warmup=0, threads=1, precision="fp32", valid_fraction=0.2, batch_size=128,
                         augment_flip=False, tta_flip=False)
    run, _ = train_run(config, tmp_path_factory.mktemp("runs"), "softmax-mini")
    return run


def test_train_run_writes_a_self_contained_report(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    final = load_run_data(run_dir).final
    assert f"{final['test_acc']:.4f}" in page  # the final accuracy is on the page
    for heading in ("Loss, accuracy and learning rate", "Confusion matrix", "Per-class accuracy",
                    "Misclassified test images", "Timing", "Configuration", "Environment"):
        assert heading in page, heading
    pngs = images_in(page)
    assert len(pngs) >= 4 and all(p.startswith(PNG) for p in pngs)
    # nothing fetched from elsewhere: every src/href is inline
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "time per epoch" in page and "training examples / s" in page
    assert (run_dir / "curves.png").read_bytes() in pngs, "the report embeds curves.png, not a second drawing"
    table = re.search(r'<table class="confusion">(.*?)</table>', page, re.S).group(1)
    counts = [int(v) for v in re.findall(r'<td class="num[^"]*"[^>]*>(\d+)</td>', table)]
    diagonal = [int(v) for v in re.findall(r'<td class="num diag"[^>]*>(\d+)</td>', table)]
    assert len(counts) == 100 and len(diagonal) == 10
    assert sum(diagonal) / sum(counts) == pytest.approx(final["test_acc"], abs=1e-9)


def test_recomputed_predictions_match_evaluate(run_dir):
    """The confusion matrix comes from the same predictions the recorded test accuracy measured."""
    finished = api.load_run(run_dir).open("cpu")
    pred, test_set = finished.report_predictions(), finished.test_set
    acc = evaluate(finished.model, finished.loader)["acc"]
    assert pred.accuracy == pytest.approx(acc, abs=1e-12)
    cm = pred.confusion()
    assert int(cm.sum()) == len(test_set) and int(cm.trace()) == round(acc * len(test_set))
    assert torch.equal(cm.sum(1), torch.bincount(test_set.labels, minlength=len(pred.classes)))


def test_train_run_reports_the_final_epochs_predictions_without_rerunning(tmp_path, monkeypatch, capsys):
    """train_run hands the last epoch's test predictions (flip TTA included) to its report: the model is not
    run over the test set a second time, and those predictions are the ones a rerun gives."""
    def no_rerun(*args, **kwargs):
        raise AssertionError("the report reran the model")

    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=1, lr=0.1, threads=1,
                         precision="fp32", augment_flip=True, tta_flip=True, test_every=0)
    with monkeypatch.context() as patched:
        patched.setattr("divekit.training.evaluate.predict_probabilities", no_rerun)
        patched.setattr("divekit.training.image.predict_probabilities", no_rerun)
        run, state = train_run(config, tmp_path, "kept")
    assert "could not write" not in capsys.readouterr().err  # a rerun would have failed the report
    assert "Confusion matrix" in (run / "report.html").read_text(encoding="utf-8")
    assert torch.equal(state.test_predictions, api.load_run(run).open("cpu").report_predictions().predicted)


def test_report_cli_and_mistake_grid(run_dir, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    pred = api.load_run(run_dir).open("cpu").report_predictions()
    wrong = int((pred.labels != pred.predicted).sum())
    assert f"{wrong} of {len(pred.labels)} test images misclassified" in page
    first = int((pred.labels != pred.predicted).nonzero()[0])
    assert f"#{first}<br>true <b class=\"good\">{pred.classes[int(pred.labels[first])]}</b>" in page


def test_report_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err


def fake_run(root: Path, name: str, lr: float, meta: dict | None = None, history_len: int = 3) -> Path:
    d = root / name
    config = TrainConfig(data="fashion-mnist-mini", model="mlp", lr=lr, epochs=history_len).to_dict()
    write_json(d / "config.json", {"config": config, "meta": meta or {}, "environment": {"torch": "x"}})
    rows = [{"epoch": e, "step": 10 * e, "train_loss": 1 / e, "train_acc": 0.5 + e / 10, "test_loss": 1.2 / e,
             "test_acc": 0.45 + e / 10, "lr": lr / e} for e in range(1, history_len + 1)]
    (d / "metrics.csv").write_text("epoch,step,train_loss,train_acc,test_loss,test_acc,lr\n" + "".join(
        ",".join(str(r[k]) for k in r) + "\n" for r in rows))
    write_json(d / "summary.json", {"final": rows[-1], "train_seconds": 6.0, "examples_per_second": 1000.0})
    return d


def test_text_is_escaped(tmp_path):
    evil = "<script>alert('x')</script>&"
    d = fake_run(tmp_path, "evil", 0.1, meta={"dataset": evil, "classes": [evil]})
    page = write_report(d).read_text(encoding="utf-8")
    assert evil not in page and esc(evil) in page
    assert page.count("<script>") == 1  # only the report's own check script
    assert "<td>&lt;b&gt;</td>" in table(["h"], [["<b>"]])


def test_kfold_run_shows_the_fold_table(tmp_path):
    d = tmp_path / "kfold"
    write_json(d / "config.json", {"config": TrainConfig().to_dict(), "meta": {"kind": "kfold", "k": 2}})
    folds = [{"fold": i, "epochs_run": 2, "final": {"train_loss": 0.1 * i, "valid_loss": 0.25 * i,
                                                      "valid_acc": 0.8 + 0.01 * i}} for i in (1, 2)]
    write_json(d / "summary.json", {"k": 2, "mean": {"train_loss": 0.15, "valid_loss": 0.375, "valid_acc": 0.815},
                                    "std": {"train_loss": 0.07, "valid_loss": 0.17, "valid_acc": 0.007},
                                    "folds": folds, "overfitting": "no sign of overfitting"})
    for i in (1, 2):
        (d / f"fold-{i}").mkdir()
        (d / f"fold-{i}" / "metrics.csv").write_text(f"epoch,train_loss,valid_loss,valid_acc\n1,0.5,0.6,0.7\n"
                                                     f"2,{0.1 * i},{0.25 * i},{0.8 + 0.01 * i}\n")
    page = write_report(d).read_text(encoding="utf-8")
    assert "Folds (k = 2)" in page and "no sign of overfitting" in page
    assert '<td>mean</td>' in page and "0.3750" in page and "0.5000" in page  # mean and fold-2 valid_loss
    assert "validation accuracy" in page and "0.8150" in page
    assert len(images_in(page)) >= 1  # the fold curves


def test_compare_highlights_config_differences(tmp_path, capsys):
    a, b = fake_run(tmp_path, "a", 0.1), fake_run(tmp_path, "b", 0.05)
    rows, classes = config_rows([load_run_data(a), load_run_data(b)])
    diffs = [r[0] for r, c in zip(rows, classes, strict=True) if c == "diff"]
    assert diffs == ["lr"]
    assert main(["report", str(a), str(b)]) == 0
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert '<tr class="diff"><td>lr</td><td class="num">0.1000</td><td class="num">0.0500</td></tr>' in page
    assert "1 difference" in page and len(images_in(page)) >= 3  # loss, acc, lr overlaid
    with pytest.raises(Exception, match="at least two"):
        write_comparison([a])


def test_live_plot_rewrites_a_png_each_epoch(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    seen = []

    class Watch:
        def on_epoch_end(self, state):
            seen.append((tmp_path / "live.png").read_bytes()[:8])

    model = torch.nn.Linear(5, 3)
    fit(model, batches, TrainConfig(epochs=2, lr=0.1, schedule="constant", warmup=0, device="cpu",
                                    precision="fp32"), test_loader=batches,
        callbacks=[LivePlot(tmp_path / "live.png", notebook=False, min_interval=0, max_share=None), Watch()])
    assert seen == [PNG, PNG]
    assert [p.name for p in tmp_path.iterdir()] == ["live.png"]  # no temporary file left behind


def test_a_one_epoch_curve_has_whole_epoch_ticks():
    """matplotlib's integer locator falls back to 0.945, 0.960, … when fewer than two whole numbers fit."""
    from divekit.report.figures import draw_metric
    from divekit.report.plots import pyplot

    fig, ax = pyplot().subplots()
    draw_metric(ax, {"": [{"epoch": 1, "train_loss": 0.5, "test_loss": 0.6}]}, "loss")
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if lo <= t <= hi]
    pyplot().close(fig)
    assert shown and all(float(t).is_integer() for t in shown), shown


def test_the_last_live_png_becomes_curves_png(tmp_path):
    """With the live plot on (as `divekit train` has it), curves.png is its final redraw, not a second drawing."""
    config = TrainConfig(data="fashion-mnist-mini", model="softmax", epochs=2, lr=0.1, schedule="constant",
                         warmup=0, threads=1, precision="fp32", batch_size=256, augment_flip=False, tta_flip=False)
    run, _ = train_run(config, tmp_path, "live", callbacks=[LivePlot(notebook=False)])
    curves = (run / "curves.png").read_bytes()
    assert curves.startswith(PNG) and curves == (run / "live.png").read_bytes()
    assert curves in images_in((run / "report.html").read_text(encoding="utf-8"))


def test_divekit_report_redraws_the_same_curves_figure(run_dir, tmp_path):
    """A report written later (`divekit report RUN`) draws the run's curves as curves.png has them."""
    page = write_report(run_dir, tmp_path / "again.html", predictions=None).read_text(encoding="utf-8")
    assert "Loss, accuracy and learning rate" in page
    assert (run_dir / "curves.png").read_bytes() in images_in(page)
