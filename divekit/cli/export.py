"""``divekit export RUN --format onnx|torchscript|pt2``: the run's model as a file that runs without divekit
(``divekit.api.Run.export``)."""

from __future__ import annotations

import argparse

from divekit.options import parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory of an image run (or its name under --runs-dir)")
    p.add_argument("--format", default="onnx", choices=("onnx", "torchscript", "pt2"),
                   help="onnx (needs pip install 'divekit[export]'), torchscript or pt2 (torch.export); default "
                        "%(default)s")
    p.add_argument("--out", help="file to write (default: RUN/model.onnx, .pt or .pt2); its sidecar <out>.json "
                                 "describes the input, the preprocessing and the classes")
    p.add_argument("--samples", type=parse("export_samples"), default=256,
                   help="test images the export is checked on against the run (default %(default)s)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--data-dir", help="where the run's data is looked for first (also when its folder has moved)")


def run(args: argparse.Namespace) -> int:
    from divekit import api

    result = api.load_run(args.run, args.runs_dir).export(args.format, args.out, args.samples, args.data_dir)
    print(result.line())
    return 0
