"""Export a finished image run as a file that runs without divekit: ONNX (onnxruntime and any ONNX runtime),
TorchScript (``torch.jit.load``) or a PyTorch 2 exported program (``torch.export.load``).

The graph takes what a decoder gives: ``pixels``, ``uint8 [batch, C, H, W]`` (0…255), and returns
``probabilities``, ``float32 [batch, classes]``. Inside it: the run's normalisation (its training pixels' mean
and standard deviation), its ``--resize`` if it had one, and its test-time views (``--tta``/``--tta-shift``),
so its probabilities are the run's. Decoding a file to ``pixels`` (Pillow, EXIF orientation, grey or RGB, the
size policy) happens before the graph and is written down in the sidecar ``<file>.json``, with the classes.

Every export is checked before it is kept: the written file is loaded back with its own runtime and run on
test images of the run (spread evenly over its test set); the largest difference of its probabilities from the
run's model (float32, the run's own loader and preprocessing) must be at most ``TOLERANCE``, else the export is
refused with that figure and no file is left behind.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from divekit.data.images import ImageDataset
from divekit.errors import ConfigError, DivekitError
from divekit.models.registry import build_model
from divekit.runs import check_output, write_json
from divekit.training.evaluate import predict_probabilities, tta_probabilities
from divekit.training.image import FinishedImages, eval_loader
from divekit.training.rundir import load_weights

FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2"}
TOLERANCE = 1e-4
DECODING = ("decode the file with Pillow, apply its EXIF orientation, take its first frame, convert it to 8-bit "
            "grey (L) for 1 channel or RGB for 3 (alpha dropped, 16-bit kept in its top 8 bits), scale it keeping "
            "its aspect ratio to cover W×H and keep the centre W×H (PIL.ImageOps.fit, bicubic); then uint8 "
            "[C, H, W], batched")


class ExportError(DivekitError):
    """An export that cannot be made or does not reproduce the run."""


@dataclass
class ExportResult:
    """The exported file and its sidecar, and how it was checked: ``max_diff`` over ``examples`` test images,
    and the exported model's ``images_per_second`` on them with its own runtime."""

    path: Path
    sidecar: Path
    format: str
    max_diff: float
    examples: int
    images_per_second: float

    def line(self) -> str:
        return (f"exported {self.path} ({self.format}), described in {self.sidecar}: largest |exported - run| "
                f"probability difference {self.max_diff:.2e} over {self.examples} test images (tolerance "
                f"{TOLERANCE:g}); {self.images_per_second:,.0f} images/s")


class Preprocessed(torch.nn.Module):
    """``pixels uint8 [B, C, H, W]`` → the run's class probabilities: normalise as the run's loader does, resize
    as it did, and average the run's test-time views."""

    def __init__(self, model: torch.nn.Module, mean: float, std: float, resize: int | None, flip: bool,
                 shift: int) -> None:
        super().__init__()
        self.model, self.scale, self.shift = model, 1.0 / (255.0 * std), mean / std
        self.resize, self.flip, self.views_shift = resize, flip, shift

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.float() * self.scale - self.shift
        if self.resize is not None:
            x = torch.nn.functional.interpolate(x, size=(self.resize, self.resize), mode="bilinear",
                                                align_corners=False)
        return tta_probabilities(self.model, x, self.flip, self.views_shift, -self.shift)


def plain_model(finished: FinishedImages, run_dir: Path) -> torch.nn.Module:
    """The run's net as plain PyTorch modules (no fast-path kernels), float32, in eval mode, on the CPU."""
    config, meta = finished.config, finished.meta
    model = build_model(config.model, tuple(meta["in_shape"]), meta["num_classes"], **config.model_options)
    load_weights(model, run_dir / "model.safetensors")
    return model.float().eval()


def sample_pixels(ds: ImageDataset, n: int) -> torch.Tensor:
    """``n`` images spread evenly over ``ds`` (its stored order may be sorted by class)."""
    index = torch.linspace(0, len(ds) - 1, min(n, len(ds))).round().long().unique()
    return ds.images.index_select(0, ds.rows[index] if ds.rows is not None else index).clone()


def reference(finished: FinishedImages, pixels: torch.Tensor) -> torch.Tensor:
    """The run's probabilities for ``pixels``: its own model, loader and test-time views, in float32."""
    ds = finished.test_set
    sample = ImageDataset(pixels, torch.zeros(len(pixels), dtype=torch.int64), ds.classes, ds.name, "sample",
                          ds.mean, ds.std)
    loader = eval_loader(sample, finished.config, torch.device("cpu"), finished.loader.channels_last)
    c = finished.config
    return predict_probabilities(finished.model, loader, torch.device("cpu"), None, c.tta_flip, c.tta_shift)


def _write(graph: Preprocessed, fmt: str, example: torch.Tensor, path: str) -> None:
    import logging
    import warnings

    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        # torch's own deprecation notices (TorchScript's, pytree's): the files are written and read as documented
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        if fmt == "onnx":
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # notes on torchvision ops it does not need
            torch.onnx.export(graph, (example,), path, dynamo=True, dynamic_shapes=({0: batch},), verbose=False,
                              input_names=["pixels"], output_names=["probabilities"])
        elif fmt == "torchscript":
            torch.jit.trace(graph, example, check_trace=False).save(path)
        else:
            torch.export.save(torch.export.export(graph, (example,), dynamic_shapes=({0: batch},)), path)


def _runner(fmt: str, path: str) -> Any:
    """The exported file loaded by its own runtime: a function ``uint8 tensor -> probabilities tensor``."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"pixels": x.numpy()})[0])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(path) if fmt == "torchscript" else torch.export.load(path).module()
    return lambda x: module(x).detach()


def _check_tools(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ExportError(f"--format onnx needs the onnx, onnxscript and onnxruntime packages ({e.name} is "
                              f"missing): pip install 'divekit[export]'") from None


def export_run(finished: FinishedImages, run_dir: Path, fmt: str, out: str | Path | None = None,
               samples: int = 256) -> ExportResult:
    """Export the finished image run ``finished`` (of ``run_dir``) as ``fmt`` to ``out`` (default
    ``RUN/model.onnx``, ``.pt`` or ``.pt2``), checked on ``samples`` of its test images (the module docstring)."""
    _check_tools(fmt)
    out = Path(out) if out else run_dir / f"model{FORMATS[fmt]}"
    sidecar = out.with_name(out.name + ".json")
    check_output(out)
    check_output(sidecar)
    pixels = sample_pixels(finished.test_set, samples)
    if not len(pixels):
        raise ExportError(f"{run_dir}: no test images to check the export on")
    expected = reference(finished, pixels)
    c, meta = finished.config, finished.meta
    graph = Preprocessed(plain_model(finished, run_dir), finished.test_set.mean, finished.test_set.std, c.resize,
                         c.tta_flip, c.tta_shift).eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{FORMATS[fmt]}", dir=out.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            _write(graph, fmt, pixels[:2], tmp)
            run = _runner(fmt, tmp)
            for _ in range(2):  # the first calls of a runtime prepare it (TorchScript optimises on the second)
                run(pixels[:2])
            start = time.perf_counter()
            got = torch.cat([run(part) for part in pixels.split(c.eval_batch_size)])
            seconds = time.perf_counter() - start
        diff = (got.float() - expected).abs().max().item()
        if not diff <= TOLERANCE:  # also a NaN
            raise ExportError(f"the {fmt} export differs from the run's model by up to {diff:.3g} in probability on "
                              f"{len(pixels)} test images (tolerance {TOLERANCE:g}); nothing was written")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    c_, h, w = pixels.shape[1:]
    write_json(sidecar, {
        "format": fmt, "file": out.name, "model": c.model, "run": str(run_dir),
        "input": {"name": "pixels", "dtype": "uint8", "shape": ["batch", c_, h, w], "layout": "NCHW",
                  "channels": "grey (L)" if c_ == 1 else "RGB", "how_to_make_it": DECODING.replace("W×H", f"{w}×{h}")},
        "inside_the_graph": {"normalise": "pixels / 255, minus mean, over std", "mean": finished.test_set.mean,
                             "std": finished.test_set.std, "resize": c.resize, "tta_flip": c.tta_flip,
                             "tta_shift": c.tta_shift},
        "output": {"name": "probabilities", "dtype": "float32", "shape": ["batch", len(finished.classes)]},
        "classes": finished.classes,
        "verified": {"examples": len(pixels), "max_abs_diff": diff, "tolerance": TOLERANCE,
                     "images_per_second": len(pixels) / max(seconds, 1e-9)},
        "dataset": meta.get("dataset")})
    return ExportResult(out, sidecar, fmt, diff, len(pixels), len(pixels) / max(seconds, 1e-9))
