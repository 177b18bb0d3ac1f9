"""A side-by-side report of several runs: final metrics, curves overlaid, config differences highlighted."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.report import html as h
from divekit.report.figures import curves_png, lr_png, metrics_in
from divekit.report.rundata import RunData, load_run_data
from divekit.runs import write_text


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` so nested options (model_options) compare key by key."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_rows(runs: Sequence[RunData]) -> tuple[list[list[Any]], list[str]]:
    """One row per config key: its value in each run, and the class ``diff`` where runs disagree."""
    flat = [flatten(r.config) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows, classes = [], []
    for k in keys:
        values = [f.get(k, "—") for f in flat]
        rows.append([k, *values])
        classes.append("diff" if any(v != values[0] for v in values[1:]) else "")
    order = sorted(range(len(rows)), key=lambda i: classes[i] != "diff")  # differences first
    return [rows[i] for i in order], [classes[i] for i in order]


def labels_for(runs: Sequence[RunData]) -> list[str]:
    """Run names, made unique (two runs may share a directory name under different roots)."""
    labels: list[str] = []
    for r in runs:
        label = r.name
        while label in labels:
            label += "'"
        labels.append(label)
    return labels


def series_of(run: RunData) -> list[dict[str, Any]]:
    """A k-fold run is compared through its first fold's curves (its summary gives the mean)."""
    if run.history or not run.folds:
        return run.history
    return next(iter(run.folds.values()))


def build_comparison(runs: Sequence[RunData]) -> str:
    labels = labels_for(runs)
    series = {label: series_of(r) for label, r in zip(labels, runs, strict=True)}
    finals = [r.final for r in runs]
    keys = list(dict.fromkeys(k for f in finals for k in f if k not in ("epoch", "step")))
    metrics = h.table(("metric", *labels), [[k, *[f.get(k, "—") for f in finals]] for k in keys])
    rows, classes = config_rows(runs)
    ndiff = classes.count("diff")
    sections = [h.section("Final metrics", metrics, anchor="final")]
    for metric in metrics_in(series):
        png = curves_png(series, [metric])
        if png:
            sections.append(h.section(f"Curves: {metric}", h.img(png, f"{metric} curves, runs overlaid"),
                                      anchor=f"curves-{metric}"))
    lr = lr_png(series)
    if lr:
        sections.append(h.section("Learning rate", h.img(lr, "learning-rate curves"), anchor="lr"))
    sections.append(h.section(f"Configuration ({ndiff} difference{'s' if ndiff != 1 else ''}, highlighted)",
                              h.table(("option", *labels), rows, classes), anchor="config"))
    timing = [[label, r.summary.get("train_seconds", r.summary.get("seconds", "—")),
               r.summary.get("examples_per_second", "—"), len(series[label])]
              for label, r in zip(labels, runs, strict=True)]
    sections.append(h.section("Timing", h.table(("run", "training time (s)", "examples / s", "epochs"), timing),
                              anchor="timing"))
    return h.page(f"divekit comparison of {len(runs)} runs", " · ".join(str(r.path) for r in runs), sections,
                  footer=f"written by divekit report on {time.strftime('%Y-%m-%d %H:%M:%S')}")


def write_comparison(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write a comparison page of ``run_dirs`` (default: ``compare.html`` next to the first run) and return it."""
    if len(run_dirs) < 2:
        raise ConfigError("a comparison needs at least two runs")
    runs = [load_run_data(d) for d in run_dirs]
    target = Path(out) if out else runs[0].path.resolve().parent / "compare.html"
    return write_text(target, build_comparison(runs))
