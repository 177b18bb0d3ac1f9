"""``divekit inspect``: the weights a seed and an init scheme give, and how gradients flow in the first steps.

Three small models make the classic cases (D2L §5.4), all 8 hidden layers of 128 units on 28×28 images:

* ``mlp-sigmoid-deep``, sigmoid with Xavier init: the gradient **vanishes**. Back-propagation multiplies
  it at every layer by ``σ'(z) ≤ 1/4``, so the first layer gets about ``4⁻⁸`` of what the last one gets.
* ``mlp-relu-xavier``, the same with ReLU: **healthy**, gradients of similar size in every layer.
* ``mlp-big-init``, ReLU with weights ``N(0, 1)``: **exploding**. Each layer multiplies the scale of the
  signal by about ``sqrt(fan_in / 2) = 8`` — a product of random matrices — and the loss overflows.

Any model of the global registry (``divekit models``) can be inspected too.

Verdict, from the first ``N`` steps: with ``g_l`` the gradient norm of the weights of layer ``l`` (geometric
mean over the steps) and ``s_l`` the std of that layer's output at the first step, the gradient ratio
``r = g_1 / g_L`` and the forward growth ``s_L / s_1`` decide: a non-finite loss or ``r`` or the growth above
``1e3`` is *exploding*, ``r`` or the growth below ``1e-3`` is *vanishing*, anything else *healthy*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from divekit.errors import ConfigError
from divekit.scratch.init import fans

INIT_SCHEMES = ("default", "normal", "xavier", "kaiming")
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.ELU)
THRESHOLD = 1e3  # ratios beyond 1e3 (or below 1e-3) are exploding (vanishing)
DEPTH, WIDTH = 8, 128


@dataclass(frozen=True)
class InspectModel:
    """A model made to show one behaviour of gradient flow: its activation and default initialisation."""

    activation: type[nn.Module]
    init: str
    std: float
    description: str


INSPECT_MODELS = {
    "mlp-sigmoid-deep": InspectModel(nn.Sigmoid, "xavier", 0.01, f"{DEPTH} sigmoid layers of {WIDTH}, Xavier init: "
                                     "the gradient vanishes (σ' ≤ 1/4 at every layer)"),
    "mlp-relu-xavier": InspectModel(nn.ReLU, "xavier", 0.01, f"{DEPTH} ReLU layers of {WIDTH}, Xavier init: healthy"),
    "mlp-big-init": InspectModel(nn.ReLU, "normal", 1.0, f"{DEPTH} ReLU layers of {WIDTH}, weights N(0, 1): "
                                 "exploding (×8 per layer)"),
}


def deep_mlp(in_features: int, num_classes: int, activation: type[nn.Module], depth: int = DEPTH,
             width: int = WIDTH) -> nn.Sequential:
    """``flatten → [linear → activation] × depth → linear``."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else width, width), activation()]
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def build(name: str, in_shape: tuple[int, ...], num_classes: int, init: str | None = None, std: float | None = None,
          seed: int = 0) -> tuple[nn.Module, str, float]:
    """``torch.manual_seed(seed)``, build model ``name`` (an inspect model or a registered one), then apply
    ``init`` (default: the model's own). Returns ``(model, init, std)``.

    Raises:
        ConfigError: an unknown model name (listing both registries), an unknown ``init``, a ``std`` that is
            not a positive finite number, or a registered model that cannot be built for ``in_shape``.
    """
    if init is not None and init not in INIT_SCHEMES:
        raise ConfigError(f"--init must be one of {', '.join(INIT_SCHEMES)}, got {init!r}")
    if std is not None and not (math.isfinite(std) and std > 0):
        raise ConfigError(f"--std must be a positive finite number (the weights' standard deviation), got {std}")
    torch.manual_seed(seed)
    spec = INSPECT_MODELS.get(name)
    if spec is not None:
        model = deep_mlp(math.prod(in_shape), num_classes, spec.activation)
        init, std = init or spec.init, spec.std if std is None else std
    else:
        from divekit.models.registry import build_model, list_models

        registered = [m.name for m in list_models()]
        if name not in registered:  # only then do the inspect models belong in the message
            raise ConfigError(f"unknown model {name!r}; choose one of the inspect models "
                              f"({', '.join(INSPECT_MODELS)}) or of 'divekit models' ({', '.join(registered)})")
        model = build_model(name, in_shape, num_classes)
        init, std = init or "default", 0.01 if std is None else std
    init_weights(model, init, std)
    return model, init, std


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str, std: float = 0.01) -> None:
    """Re-initialise the weights of every linear and convolution layer, biases to zero.

    ``normal``: ``N(0, std²)``; ``xavier``: ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``; ``kaiming``:
    ``N(0, 2 / fan_in)`` (ReLU gain); ``default``: leave the layers as built (torch's own init).
    """
    if scheme == "default":
        return
    for m in model.modules():
        if not isinstance(m, WEIGHTED):
            continue
        if scheme == "normal":
            nn.init.normal_(m.weight, 0.0, std)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(m.weight)
        else:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
            m.bias.zero_()


def expected_std(weight: torch.Tensor, scheme: str, std: float) -> float | None:
    """The std ``scheme`` draws weights with: ``std``, ``sqrt(2 / (fan_in + fan_out))``, ``sqrt(2 / fan_in)``;
    None for ``default`` (a registered model may initialise its own way)."""
    fan_in, fan_out = fans(weight)
    return {"normal": std, "xavier": math.sqrt(2 / (fan_in + fan_out)), "kaiming": math.sqrt(2 / fan_in)}.get(scheme)


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Linear and convolution layers in definition order, named ``"<path> <Type>"``."""
    return [(f"{name} {type(m).__name__}", m) for name, m in model.named_modules() if isinstance(m, WEIGHTED)]


def weight_stats(model: nn.Module, scheme: str, std: float) -> list[dict[str, Any]]:
    """Per layer: shape, mean, std, min, max of the weights, and the std the scheme predicts."""
    rows = []
    for name, m in weighted_layers(model):
        w = m.weight.detach().double()
        rows.append({"layer": name, "shape": list(w.shape), "mean": float(w.mean()), "std": float(w.std()),
                     "min": float(w.min()), "max": float(w.max()), "expected_std": expected_std(w, scheme, std)})
    return rows


@dataclass
class Flow:
    """What the first steps recorded. Lists are ``[step][layer]``; ``acts`` has one entry per weighted layer
    (the activation module that follows it, if any): its kind and ``[step] -> (mean, std, fraction)``."""

    layers: list[str]
    losses: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)
    out_std: list[list[float]] = field(default_factory=list)
    acts: list[dict[str, Any] | None] = field(default_factory=list)
    samples: dict[str, torch.Tensor] = field(default_factory=dict)  # first-step activation values (≤ 20k)
    diverged_at: int | None = None


def _fraction(kind: str, a: torch.Tensor) -> float | None:
    """Share of dead ReLU units (exactly 0) or of saturated sigmoid/tanh units (slope < ~0.01)."""
    if kind == "ReLU":
        return float((a == 0).double().mean())
    if kind == "Sigmoid":
        return float(((a < 0.01) | (a > 0.99)).double().mean())
    if kind == "Tanh":
        return float((a.abs() > 0.99).double().mean())
    return None


def _attach(model: nn.Module, flow: Flow, current: dict[str, Any]) -> list[Any]:
    """Forward hooks filling ``current`` with each layer's output std and its activation's statistics."""
    index = {id(m): i for i, (_, m) in enumerate(weighted_layers(model))}
    handles, last = [], None
    flow.acts = [None] * len(index)
    for _, m in model.named_modules():
        if id(m) in index:
            last = index[id(m)]
            handles.append(m.register_forward_hook(
                lambda _m, _i, out, i=last: current["out"].__setitem__(i, float(out.detach().double().std()))))
        elif isinstance(m, ACTIVATIONS) and last is not None and flow.acts[last] is None:
            flow.acts[last] = {"kind": type(m).__name__, "steps": []}
            handles.append(m.register_forward_hook(
                lambda _m, _i, out, i=last: current["act"].__setitem__(i, out.detach().double())))
    return handles


def record_flow(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], lr: float = 0.1) -> Flow:
    """Train ``model`` with plain SGD on ``batches`` (one step each), recording per step the loss, each
    layer's weight-gradient norm, output std and activation statistics. Stops at a non-finite loss."""
    layers = weighted_layers(model)
    flow = Flow([name for name, _ in layers])
    current: dict[str, Any] = {"out": {}, "act": {}}
    handles = _attach(model, flow, current)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    try:
        for step, (x, y) in enumerate(batches):
            current["out"].clear()
            current["act"].clear()
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            flow.losses.append(float(loss.detach()))
            flow.grad_norms.append([float(m.weight.grad.double().norm()) for _, m in layers])
            flow.out_std.append([current["out"].get(i, math.nan) for i in range(len(layers))])
            for i, a in current["act"].items():
                flow.acts[i]["steps"].append((float(a.mean()), float(a.std()), _fraction(flow.acts[i]["kind"], a)))
                if step == 0:
                    flow.samples[f"{flow.layers[i]} → {flow.acts[i]['kind']}"] = a.flatten()[:20_000].float()
            if not all(map(math.isfinite, [flow.losses[-1], *flow.grad_norms[-1]])):
                flow.diverged_at = step
                break
            opt.step()
    finally:
        for h in handles:
            h.remove()
    return flow


def _geomean(values: list[float]) -> float:
    good = [v for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(map(math.log, good)) / len(good)) if good else 0.0


def layer_grad_norms(flow: Flow) -> list[float]:
    """Each layer's gradient norm, the geometric mean over the recorded steps."""
    return [_geomean([g[i] for g in flow.grad_norms]) for i in range(len(flow.layers))]


def verdict(flow: Flow) -> tuple[str, str]:
    """``("vanishing" | "exploding" | "healthy", reason)`` (rules in the module docstring)."""
    g = layer_grad_norms(flow)
    ratio = g[0] / g[-1] if g[-1] > 0 else math.inf
    s = flow.out_std[0]
    growth = s[-1] / s[0] if s[0] > 0 else math.inf
    facts = f"first/last layer gradient norm {ratio:.2g}, output std grows ×{growth:.2g} through the layers"
    if flow.diverged_at is not None:
        return "exploding", (f"{facts}; the loss or a gradient became {flow.losses[-1]} at step {flow.diverged_at}: "
                             f"use a smaller init (--init xavier or kaiming) or a smaller --lr")
    if ratio > THRESHOLD or growth > THRESHOLD:
        return "exploding", f"{facts}: the weights are too large; use --init xavier or kaiming (or clip gradients)"
    if ratio < 1 / THRESHOLD or growth < 1 / THRESHOLD:
        return "vanishing", (f"{facts}: the first layers barely learn; use ReLU with Kaiming/Xavier init, batch "
                             f"norm or residual connections")
    return "healthy", f"{facts}: both within 1e-3…1e3"
