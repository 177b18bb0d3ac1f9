"""Figures of ``divekit inspect``: weight and activation histograms, gradient flow across layers."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from divekit.report.plots import pyplot, save_figure

MAX_PANELS = 16  # bigger models show their first 16 layers


def histograms(values: dict[str, torch.Tensor], path: Path, title: str, notes: dict[str, str] | None = None) -> Path:
    """One ``plt.hist`` panel per entry of ``values`` (layer name → tensor), four panels a row."""
    plt = pyplot()
    names = list(values)[:MAX_PANELS]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        v = values[name].detach().flatten().double()
        v = v[torch.isfinite(v)]
        ax.hist(v.numpy(), bins=50, color="tab:blue")
        ax.set_title(f"{name}\n{(notes or {}).get(name, f'std {float(v.std()):.3g}' if len(v) > 1 else '')}",
                     fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    more = f" (first {MAX_PANELS} of {len(values)} layers)" if len(values) > MAX_PANELS else ""
    fig.suptitle(title + more, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def gradient_flow(layers: list[str], grad_norms: list[float], out_std: list[float], path: Path, title: str) -> Path:
    """Left: each layer's weight-gradient norm; right: the std of each layer's output (both log scale)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    x = range(1, len(layers) + 1)
    for ax, values, label in ((left, grad_norms, "weight gradient norm"), (right, out_std, "output std (first step)")):
        safe = [v if math.isfinite(v) and v > 0 else float("nan") for v in values]
        ax.plot(x, safe, marker="o")
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = nearest the input)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
