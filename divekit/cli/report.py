"""``divekit report RUN [RUN …]``: one run → RUN/report.html; several → a side-by-side comparison page.

No torch import at module level (the model is rebuilt only when a report needs predictions).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_trailing="runs")  # more runs after the options join the list (cli.parse)
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="run directories (a path, or a name under --runs-dir); two or more are compared")
    p.add_argument("--runs-dir", default="runs", help="where run names are looked up (default: %(default)s)")
    p.add_argument("--out", help="output HTML file (default: RUN/report.html, or compare.html next to the "
                                 "first run when comparing)")
    p.add_argument("--no-predictions", dest="predictions", action="store_false",
                   help="do not rerun the model over the test set (no confusion matrix or misclassified images)")


def run(args: argparse.Namespace) -> int:
    from divekit import api

    runs = [api.load_run(r, args.runs_dir) for r in args.runs]
    if len(runs) == 1:
        path = runs[0].report(args.out, predictions=args.predictions)
    else:
        from divekit.report.compare import write_comparison

        path = write_comparison([r.path for r in runs], args.out)
    print(f"report: {path}")
    return 0
