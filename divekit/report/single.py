"""``report.html`` of one run: config, environment, final metrics, curves, learning rate, confusion matrix,
misclassified test images, per-class accuracy, timing, and the per-fold table of k-fold runs.

The page is one self-contained file (images are base64 PNG, styles inline) written atomically next to
the run's other files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from divekit.report import html as h
from divekit.report.figures import confusion_png, curves_png, lr_png, progress_png, tile_png
from divekit.report.rundata import Predictions, RunData, load_run_data
from divekit.runs import write_text

MAX_MISTAKES = 48
TABLE_CLASSES = 30  # more classes than this: the confusion matrix as a figure
HEADLINE = (("test_acc", "test accuracy"), ("valid_acc", "validation accuracy"), ("test_loss", "test loss"),
            ("valid_loss", "validation loss"), ("valid_log_rmse", "validation log RMSE"),
            ("train_acc", "train accuracy"), ("train_loss", "train loss"))


def headline(final: dict[str, Any]) -> dict[str, str]:
    """The few numbers shown big at the top (up to four, in order of interest)."""
    found = {label: h.fmt(final[key]) for key, label in HEADLINE if isinstance(final.get(key), (int, float))}
    return dict(list(found.items())[:4])


def timing(run: RunData) -> dict[str, Any]:
    """Seconds of training, examples/s and seconds per epoch, from summary.json."""
    s = run.summary
    epochs = len(run.history)
    out: dict[str, Any] = {}
    if "train_seconds" in s:
        out["training time (s)"] = s["train_seconds"]
        if epochs:
            out["time per epoch (s)"] = round(float(s["train_seconds"]) / epochs, 3)
    for key, label in (("total_seconds", "total time incl. data loading (s)"),
                       ("examples_per_second", "training examples / s"), ("seconds", "total time (s)")):
        if key in s:
            out[label] = s[key]
    if epochs:
        out["epochs run"] = epochs
    return out


def fold_table(run: RunData) -> str:
    """Per-fold final metrics, then mean and standard deviation over the folds."""
    folds = [f for f in run.summary.get("folds", []) if isinstance(f, dict)]
    k = run.summary.get("k") or run.meta.get("k")
    if not folds:
        return h.para(f"interrupted before its first fold finished (0 of {k} folds)" if k else
                      "summary.json has no per-fold results.")
    if run.summary.get("complete") is False:
        return h.para(f"interrupted after {len(folds)} of {k} folds; the folds that finished:") + _fold_rows(
            run, folds)
    return _fold_rows(run, folds)


def _fold_rows(run: RunData, folds: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for f in folds for k in (f.get("final") or {}) if k.startswith(("train_", "valid_"))))
    rows = [[f.get("fold"), f.get("epochs_run"), *[(f.get("final") or {}).get(k) for k in keys]] for f in folds]
    mean, std = run.summary.get("mean", {}), run.summary.get("std", {})
    if mean:
        rows += [["mean", None, *[mean.get(k) for k in keys]], ["std", None, *[std.get(k) for k in keys]]]
    parts = [h.table(("fold", "epochs", *keys), rows)]
    for text in [run.summary.get("overfitting")] + [f.get("overfitting") for f in folds]:
        if text:
            parts.append(h.para(str(text)))
            break
    return "".join(parts)


def per_class(pred: Predictions) -> str:
    """Accuracy of each true class, with a bar, from the recomputed predictions."""
    cm = pred.confusion()
    rows = []
    for i, name in enumerate(pred.classes):
        total = int(cm[i].sum())
        acc = int(cm[i, i]) / total if total else float("nan")
        rows.append((name, total, acc))
    body = "".join(
        f"<tr><td>{h.esc(n)}</td><td class=\"num\">{t}</td><td class=\"num\">{h.esc(h.fmt(a))}</td>"
        f"<td><span class=\"bar\" style=\"width:{0 if a != a else round(a * 200)}px\"></span></td></tr>"
        for n, t, a in rows)
    return ("<table><thead><tr><th>class</th><th>test examples</th><th>accuracy</th><th></th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def mistakes(pred: Predictions, limit: int = MAX_MISTAKES) -> str:
    """A grid of ``limit`` misclassified images captioned true → predicted: the most confidently wrong first
    (highest loss, as fastai's top losses) when the losses are known, else in stored order; with file names
    when the images have them."""
    split = "validation" if pred.split == "valid" else "test"
    wrong = (pred.labels != pred.predicted).nonzero().flatten()
    if not len(wrong):
        return h.para(f"No {split} image was misclassified.")
    by_loss = pred.losses is not None
    if by_loss:
        wrong = wrong[pred.losses[wrong].argsort(descending=True, stable=True)]
    figures = []
    for i in wrong[:limit].tolist():
        true, guess = pred.classes[int(pred.labels[i])], pred.classes[int(pred.predicted[i])]
        name = f"<br>{h.esc(str(pred.names[i]))}" if pred.names is not None else ""
        loss = f"<br>loss {float(pred.losses[i]):.2f}" if by_loss else ""
        figures.append(f"<figure>{h.img(tile_png(pred.images[i]), f'{split} image {i}')}<figcaption>#{i}{name}<br>"
                       f"true <b class=\"good\">{h.esc(true)}</b><br>pred <b class=\"bad\">{h.esc(guess)}</b>{loss}"
                       "</figcaption></figure>")
    order = "most confidently wrong first (highest loss)" if by_loss else f"in {split} order"
    note = (f"{len(wrong)} of {len(pred.labels)} {split} images misclassified; {len(figures)} shown, {order}:")
    return h.para(note) + f'<div class="grid">{"".join(figures)}</div>'


def confusion_table(matrix, classes: tuple[str, ...] | list[str]) -> str:
    """Counts of (true row, predicted column) as an HTML table shaded by count (the diagonal is what went
    right); with more than ``TABLE_CLASSES`` classes a figure instead. A table reads exactly and costs no
    drawing (a matplotlib heat map takes ~0.45 s, a fifth of the end of a short run)."""
    if len(classes) > TABLE_CLASSES:
        return h.img(confusion_png(matrix, classes), "confusion matrix")
    top = max(int(matrix.max()), 1)
    rows = []
    for i, name in enumerate(classes):
        cells = []
        for j in range(len(classes)):
            value, shade = int(matrix[i, j]), int(matrix[i, j]) / top
            style = f"background:rgba(31,119,180,{shade:.2f}){';color:#fff' if shade > 0.5 else ''}"
            cells.append(f'<td class="num{" diag" if i == j else ""}" style="{style}">{value}</td>')
        rows.append(f"<tr><th>{h.esc(name)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{h.esc(c)}</th>" for c in classes)
    return (f'<table class="confusion"><thead><tr><th>true \\ predicted</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def prediction_sections(pred: Predictions, recorded: Any) -> list[str]:
    split = "validation" if pred.split == "valid" else "test"
    check = f"recomputed {split} accuracy {h.fmt(pred.accuracy)}"
    if isinstance(recorded, (int, float)):
        check += f" (recorded at the end of training: {h.fmt(recorded)})"
    return [h.section(f"Confusion matrix ({split} set)", h.para(check),
                      confusion_table(pred.confusion().numpy(), pred.classes),
                      anchor="confusion"),
            h.section("Per-class accuracy", per_class(pred), anchor="per-class"),
            h.section(f"Misclassified {split} images", mistakes(pred), anchor="mistakes")]


def curve_sections(run: RunData, curves: bytes | None = None) -> list[str]:
    """A single run: one section with its ``curves.png`` figure (loss, accuracy, learning rate; ``curves``:
    that PNG if already drawn, else drawn now). K-fold: the folds overlaid, curves and learning rate."""
    if not run.is_kfold:
        curves = curves or progress_png(run.history)
        return [h.section("Loss, accuracy and learning rate", h.para("train vs validation/test, per epoch"),
                          h.img(curves, "loss, accuracy and learning-rate curves"), anchor="curves")] if curves else []
    series = dict(run.folds) if run.folds else {"": run.history}
    parts = []
    curves = curves_png(series)
    if curves:
        parts.append(h.section("Loss and accuracy curves", h.para("each fold, train vs validation"),
                               h.img(curves, "loss and accuracy curves"), anchor="curves"))
    lr = lr_png(series)
    if lr:
        parts.append(h.section("Learning rate", h.img(lr, "learning-rate curve"), anchor="lr"))
    return parts


def build_report(run: RunData, predictions: Predictions | None = None, curves: bytes | None = None) -> str:
    """The HTML text of ``run``'s report; ``predictions``: the test-set predictions (the confusion matrix and
    misclassified examples need them; ``divekit.api.Run.report`` computes them); ``curves``: the run's curves
    figure (PNG) when already drawn."""
    final = run.final
    kind = "k-fold cross-validation" if run.is_kfold else "training run"
    data = run.meta.get("dataset") or run.config.get("data")
    subtitle = f"{kind} · model {run.config.get('model', '?')} · data {data} · {run.path}"
    sections = [h.cards(headline(final)) if headline(final) else ""]
    sections.append(h.section("Final metrics", h.key_values(final) if final else h.para("no metrics recorded"),
                              anchor="final"))
    if run.is_kfold:
        sections.append(h.section(f"Folds (k = {run.summary.get('k', len(run.folds))})", fold_table(run),
                                  anchor="folds"))
    sections += curve_sections(run, curves)
    if predictions is not None:
        sections += prediction_sections(predictions, final.get(f"{predictions.split}_acc"))
    if timing(run):
        sections.append(h.section("Timing", h.key_values(timing(run)), anchor="timing"))
    sections.append(h.section("Configuration", h.key_values(run.config), anchor="config"))
    if run.meta:
        sections.append(h.section("Run details", h.key_values(run.meta), anchor="meta"))
    if run.environment:
        sections.append(h.section("Environment", h.key_values(run.environment), anchor="environment"))
    return h.page(f"divekit report: {run.name}", subtitle, sections,
                  footer=f"written by divekit report on {time.strftime('%Y-%m-%d %H:%M:%S')}")


def write_report(run_dir: str | Path, out: str | Path | None = None, predictions: Predictions | None = None,
                 curves: bytes | None = None) -> Path:
    """Write ``RUN/report.html`` (or ``out``) for the run in ``run_dir`` and return its path (``predictions``
    and ``curves`` as for ``build_report``)."""
    run = load_run_data(run_dir)
    return write_text(Path(out) if out else run.path / "report.html", build_report(run, predictions, curves))
