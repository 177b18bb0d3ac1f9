"""One ``divekit inspect`` run: build and initialise, record the first steps, write the run directory.

The run directory holds ``weights.png`` (histogram of each layer's initial weights), ``activations.png``
(each activation's outputs at the first step), ``gradients.png`` (gradient norm and output std per layer)
and ``inspect.json`` (every number printed, per step).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import torch

from divekit.diagnose import plots
from divekit.diagnose.gradient_flow import build, layer_grad_norms, record_flow, verdict, weight_stats, weighted_layers
from divekit.errors import ConfigError


def first_batches(data: str, data_dir: str | None, batch_size: int, steps: int,
                  seed: int) -> tuple[Any, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The dataset's training split and its first ``steps`` shuffled, normalised batches (epochs repeat)."""
    from divekit.data.images import load_dataset
    from divekit.data.loader import TensorLoader

    ds = load_dataset(data, "train", data_dir)
    loader = TensorLoader(ds.images, ds.labels, batch_size, shuffle=True, seed=seed, mean=ds.mean, std=ds.std,
                          drop_last=True)
    if len(loader) == 0:
        raise ConfigError(f"--batch-size {batch_size} is larger than the {len(ds)} training examples of {data}")
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    for epoch in itertools.count():
        loader.set_epoch(epoch)
        batches += itertools.islice(loader, steps - len(batches))
        if len(batches) >= steps:
            return ds, batches
    raise AssertionError("unreachable")


def inspect_model(model: str, init: str | None = None, std: float | None = None, seed: int = 0, steps: int = 20,
                  batch_size: int = 64, lr: float = 0.1, data: str = "fashion-mnist-mini", data_dir: str | None = None,
                  runs_dir: str | Path = "runs", name: str | None = None, plot: bool = True) -> dict[str, Any]:
    """Inspect ``model``'s initial weights and its gradient flow over the first ``steps`` SGD steps.

    Returns the JSON-ready result (also written to ``inspect.json`` in the new run directory, ``run_dir``).
    """
    from divekit.runs import default_run_name, new_run_dir, write_json

    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError("--steps and --batch-size must be ≥ 1 and --lr positive")
    ds, batches = first_batches(data, data_dir, batch_size, steps, seed)
    net, init, std = build(model, ds.shape, ds.num_classes, init, std, seed)
    weights = weight_stats(net, init, std)
    initial = {n: m.weight.detach().clone() for n, m in weighted_layers(net)}
    flow = record_flow(net, batches, lr)
    kind, reason = verdict(flow)
    run_dir = new_run_dir(runs_dir, name or default_run_name(f"inspect-{model}"))
    result = {"model": model, "init": init, "std": std if init == "normal" else None, "seed": seed, "lr": lr,
              "batch_size": batch_size, "data": ds.name, "steps": len(flow.losses), "verdict": kind,
              "reason": reason, "weights": weights, "layers": flow.layers, "losses": flow.losses,
              "grad_norms": flow.grad_norms, "layer_grad_norms": layer_grad_norms(flow), "out_std": flow.out_std,
              "activations": flow.acts, "diverged_at": flow.diverged_at, "run_dir": str(run_dir)}
    write_json(run_dir / "inspect.json", result)
    if plot:
        title = f"{model}, init {init}, seed {seed}"
        notes = {w["layer"]: f"std {w['std']:.3g}" + (f" (theory {w['expected_std']:.3g})" if w["expected_std"]
                                                      else "") for w in weights}
        plots.histograms(initial, run_dir / "weights.png", f"initial weights: {title}", notes)
        if flow.samples:
            plots.histograms(flow.samples, run_dir / "activations.png", f"activations at the first step: {title}")
        plots.gradient_flow(flow.layers, result["layer_grad_norms"], flow.out_std[0], run_dir / "gradients.png",
                            f"{title}: {kind}")
    return result


def _g(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}" if math.isfinite(v) else str(v)


def format_result(r: dict[str, Any]) -> str:
    """The tables and the verdict line that ``divekit inspect`` prints."""
    width = max(len(n) for n in r["layers"])
    lines = [f"model {r['model']}, init {r['init']}" + (f" (std {r['std']:g})" if r["std"] else "")
             + f", seed {r['seed']}", "", "initial weights",
             f"  {'layer':<{width}}  {'shape':<12} {'mean':>9} {'std':>9} {'theory':>9}"]
    for w in r["weights"]:
        shape = "×".join(map(str, w["shape"]))
        lines.append(f"  {w['layer']:<{width}}  {shape:<12} {w['mean']:>9.2g} {w['std']:>9.3g} "
                     f"{_g(w['expected_std']):>9}")
    losses = r["losses"]
    lines += ["", f"first {r['steps']} SGD steps (lr {r['lr']:g}, batch {r['batch_size']} of {r['data']}): loss "
              f"{_g(losses[0])} → {_g(losses[-1])}",
              f"  {'layer':<{width}}  {'grad norm':>9} {'÷ last':>9} {'out std':>9}  activation at the first step "
              f"(mean, std, dead or saturated)"]
    grads = r["layer_grad_norms"]
    for i, layer in enumerate(r["layers"]):
        act = r["activations"][i]
        text = "-"
        if act and act["steps"]:
            mean, std, frac = act["steps"][0]
            text = f"{act['kind']:<8} {_g(mean)}, {_g(std)}" + ("" if frac is None else f", {frac:.0%}")
        ratio = grads[i] / grads[-1] if grads[-1] else math.inf
        lines.append(f"  {layer:<{width}}  {_g(grads[i]):>9} {_g(ratio):>9} {_g(r['out_std'][0][i]):>9}  {text}")
    lines += ["", f"verdict: {r['verdict']} — {r['reason']}", f"wrote {r['run_dir']}"]
    return "\n".join(lines)

