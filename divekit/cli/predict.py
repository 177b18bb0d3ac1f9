"""``divekit predict RUN --out predictions.csv``: predictions in the original test order."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory (or its name under --runs-dir)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--out", default=None, help="CSV file to write (default: RUN/predictions.csv)")
    p.add_argument("--data-dir", help="override where the dataset is looked for")
    p.add_argument("--device", default="auto")
    p.add_argument("--text", action="append", help="text to classify with a text run (repeatable)")
    p.add_argument("--test-csv", help="CSV to predict on with a tabular run (default: the test file it was trained "
                                      "with, if any)")


def predict(model, loader, device, dtype, tta_flip: bool, tta_shift: int = 0):
    """Class probabilities for every example of ``loader``, which must keep the stored order."""
    import torch

    from divekit.diagnose.checks import check_ordered_loader
    from divekit.train.device import autocast
    from divekit.train.fit import tta_probabilities

    check_ordered_loader(loader)
    probs = []
    fill = getattr(loader, "pad_value", 0.0)
    model.eval()
    with torch.inference_mode():
        for x, _ in loader:
            with autocast(device, dtype):
                p = tta_probabilities(model, x, tta_flip, tta_shift, fill)
            probs.append(p.float().cpu())
    return torch.cat(probs)


def run(args: argparse.Namespace) -> int:
    from divekit.errors import ConfigError
    from divekit.runs import resolve_run_dir
    from divekit.train.tasks import predictor_for, trained_run_kind

    kind = trained_run_kind(resolve_run_dir(args.run, args.runs_dir), "predict with")
    for flag, value, fits in (("--text", args.text, "text"), ("--test-csv", args.test_csv, "tabular")):
        if value and kind != fits:
            raise ConfigError(f"{flag} is for {fits} runs; {args.run} is a {kind} run")
    return predictor_for(kind)(args)


def predict_images(args: argparse.Namespace) -> int:
    """Image classification: one row per test image, in the dataset's stored order."""
    from pathlib import Path

    from divekit.runs import resolve_run_dir, write_text
    from divekit.train.run import open_test_run

    t = open_test_run(resolve_run_dir(args.run, args.runs_dir), args.device, args.data_dir)
    run_dir, test_set = t.run_dir, t.test_set
    probs = predict(t.model, t.loader, t.device, t.dtype, t.config.tta_flip, t.config.tta_shift)
    conf, pred = probs.max(1)
    classes = t.meta.get("classes") or [str(i) for i in range(probs.shape[1])]
    lines = ["index,label,class,probability,true_label"]
    for i, (p, c, t) in enumerate(zip(pred.tolist(), conf.tolist(), test_set.labels.tolist(), strict=True)):
        lines.append(f"{i},{p},{classes[p]},{c:.6f},{t}")
    out = Path(args.out) if args.out else run_dir / "predictions.csv"
    write_text(out, "\n".join(lines) + "\n")
    acc = (pred == test_set.labels).float().mean().item()
    print(f"wrote {len(pred)} predictions to {out} (accuracy {acc:.4f})")
    return 0
