"""Per-layer summary of any ``nn.Module``: output shapes, parameters and multiply-accumulates (MACs).

``summary(model, (1, 1, 28, 28))`` runs one forward pass on a random batch of that shape with
forward hooks on the layers (modules without children, plus modules that hold parameters of their
own), in eval mode and without gradients, then puts the model back as it was.

MACs count the multiply-accumulates of convolutions (``out.numel() · C_in/groups · kH·kW``),
linear layers (``out.numel() · in_features``), recurrent layers and cells (``gates · hidden ·
(input + hidden)`` per step) and multi-head attention (projections and both attention products), for
the whole batch given. Bias additions, batch norm, activations and pooling are not counted, the
convention of torchvision's published operation counts (ResNet-18: 1.81 G at 224 px).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from divekit.errors import ConfigError

_GATES = {nn.RNN: 1, nn.RNNCell: 1, nn.GRU: 3, nn.GRUCell: 3, nn.LSTM: 4, nn.LSTMCell: 4}
# modules summarised as one layer (their children are called functionally, so hooks would miss them)
_WHOLE = (nn.MultiheadAttention,)


@dataclass
class LayerInfo:
    """One layer call: module path, class name, output shape, parameters (first call only), MACs."""

    name: str
    kind: str
    output_shape: str
    params: int
    macs: int


@dataclass
class ModelSummary:
    """The result of ``summary``: one ``LayerInfo`` per layer call, in execution order, and totals."""

    input_shape: tuple[int, ...]
    output_shape: str
    layers: list[LayerInfo]
    total_params: int
    trainable_params: int
    total_macs: int

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The summary as a fixed-width text table."""
        rows = [(f"{r.name} ({r.kind})", r.output_shape, f"{r.params:,}", f"{r.macs:,}") for r in self.layers]
        head = ("Layer (type)", "Output shape", "Params", "MACs")
        widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]

        def line(cells: tuple[str, ...]) -> str:
            cols = zip(cells, widths, strict=True)
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cols))

        rule = "-" * (sum(widths) + 6)
        lines = [line(head), rule, *map(line, rows), rule]
        lines += [f"Input: {list(self.input_shape)}   Output: {self.output_shape}",
                  f"Parameters: {self.total_params:,} (trainable {self.trainable_params:,}), "
                  f"{self.total_params * 4 / 2**20:.1f} MiB as float32",
                  f"MACs: {self.total_macs:,} ({self.total_macs / 1e9:.3g} G) for this input"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _shape_text(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(list(value.shape))
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_shape_text(v) for v in value) + ")"
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return f"packed {list(value.data.shape)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


def _first_tensor(value) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return value.data
    if isinstance(value, list | tuple):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _rnn_macs(m: nn.RNNBase, x: torch.Tensor, packed: bool) -> int:
    """``gates · H · (in + H)`` per step, per layer and direction (plus the LSTM projection, if any)."""
    steps = x.shape[0] if packed or x.dim() == 2 else x.shape[0] * x.shape[1]
    gates, hidden = _GATES[type(m)], m.hidden_size
    proj = getattr(m, "proj_size", 0) or 0
    out = proj or hidden
    dirs = 2 if m.bidirectional else 1
    total = 0
    for layer in range(m.num_layers):
        width_in = m.input_size if layer == 0 else out * dirs
        total += dirs * (gates * hidden * (width_in + out) + hidden * proj)
    return steps * total


def _attention_macs(m: nn.MultiheadAttention, args: tuple, kwargs: dict) -> int:
    """Projections of q, k, v and the output (``E²`` per position) plus ``QKᵀ`` and ``A·V``."""
    names = ("query", "key", "value")
    q, k, _ = (args[i] if i < len(args) else kwargs[n] for i, n in enumerate(names))
    e = m.embed_dim
    batched = q.dim() == 3
    seq_axis = 1 if batched and m.batch_first else 0
    n_q, n_k = q.numel() // e, k.numel() // k.shape[-1]
    s = k.shape[seq_axis]
    return n_q * e * e + n_k * e * (m.kdim + m.vdim) + 2 * n_q * s * e + n_q * e * e


def layer_macs(module: nn.Module, args: tuple, kwargs: dict, output) -> int:
    """Multiply-accumulates of one call of ``module`` (0 for layers whose cost is not counted)."""
    out = _first_tensor(output)
    x = _first_tensor(args) if args else _first_tensor(list(kwargs.values()))
    if isinstance(module, nn.modules.conv._ConvNd) and x is not None and out is not None:
        kernel = math.prod(module.kernel_size)
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            return x.numel() * module.out_channels // module.groups * kernel
        return out.numel() * module.in_channels // module.groups * kernel
    if isinstance(module, nn.Linear) and out is not None:
        return out.numel() * module.in_features
    if isinstance(module, nn.Bilinear) and out is not None:
        return out.numel() * module.in1_features * module.in2_features
    if isinstance(module, nn.RNNBase) and x is not None:
        return _rnn_macs(module, x, isinstance(args[0], nn.utils.rnn.PackedSequence))
    if isinstance(module, nn.RNNCellBase) and x is not None:
        rows = x.shape[0] if x.dim() == 2 else 1
        return rows * _GATES[type(module)] * module.hidden_size * (module.input_size + module.hidden_size)
    if isinstance(module, nn.MultiheadAttention):
        return _attention_macs(module, args, kwargs)
    return 0


def _layers(model: nn.Module) -> dict[nn.Module, str]:
    """The modules summarised as rows: leaves, ``_WHOLE`` modules, and modules with parameters of their own."""
    layers: dict[nn.Module, str] = {}
    skip: list[str] = []
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in skip):
            continue
        if isinstance(m, _WHOLE):
            skip.append(name)
        if isinstance(m, _WHOLE) or not any(True for _ in m.children()) or any(True for _ in m.parameters(False)):
            layers.setdefault(m, name or type(m).__name__)
    return layers


def _hint(module: nn.Module, x: torch.Tensor | None) -> str:
    """A sentence on the usual cause of a shape error in ``module``, when recognisable."""
    if x is None:
        return ""
    if isinstance(module, nn.Linear) and x.shape[-1:] != (module.in_features,):
        return (f" Hint: Linear expects {module.in_features} features on the last axis but got {x.shape[-1]}; "
                f"set in_features={x.shape[-1]} (or fix the flatten/reshape before it).")
    conv_dims = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
    if type(module) in conv_dims and x.dim() >= conv_dims[type(module)] + 1:
        channels = x.shape[-conv_dims[type(module)] - 1]
        if channels != module.in_channels:
            return (f" Hint: {type(module).__name__} expects {module.in_channels} input channels but got "
                    f"{channels}; set in_channels={channels}.")
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and x.dim() > 1 and x.shape[1] != module.num_features:
        return f" Hint: {type(module).__name__} has num_features={module.num_features} but got {x.shape[1]} channels."
    return ""


class _Tracer:
    """Forward hooks recording rows, and the stack of modules being run (to name the one that fails)."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = _layers(model)
        self.names = {m: n or type(m).__name__ for n, m in model.named_modules()}
        self.rows: list[LayerInfo] = []
        self.stack: list[nn.Module] = []
        self.inputs: dict[nn.Module, torch.Tensor | None] = {}
        self.last_done: nn.Module | None = None
        self.calls: dict[nn.Module, int] = {}
        self.seen: set[int] = set()
        self.handles = []
        for m in self.names:
            self.handles.append(m.register_forward_pre_hook(self.pre, with_kwargs=True))
            self.handles.append(m.register_forward_hook(self.post, with_kwargs=True))

    def pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.stack.append(module)
        self.inputs[module] = _first_tensor(args) if args else _first_tensor(list(kwargs.values()))

    def post(self, module: nn.Module, args: tuple, kwargs: dict, output) -> None:
        self.stack.pop()
        if module not in self.layers:
            return
        self.last_done = module
        self.calls[module] = self.calls.get(module, 0) + 1
        name = self.layers[module] + (f" (call {self.calls[module]})" if self.calls[module] > 1 else "")
        params = self._new_params(module, recurse=isinstance(module, _WHOLE))
        self.rows.append(LayerInfo(name, type(module).__name__, _shape_text(output), params,
                                   int(layer_macs(module, args, kwargs, output))))

    def _new_params(self, module: nn.Module, recurse: bool) -> int:
        """Parameters of ``module`` not yet counted in an earlier row (shared weights count once)."""
        total = 0
        for p in module.parameters(recurse):
            if id(p) not in self.seen:
                self.seen.add(id(p))
                total += p.numel()
        return total

    def uncalled_rows(self) -> list[LayerInfo]:
        """Rows for layers holding parameters that the forward pass never called."""
        return [LayerInfo(name, type(m).__name__, "(not called)", n, 0) for m, name in self.layers.items()
                if m not in self.calls and (n := self._new_params(m, recurse=isinstance(m, _WHOLE)))]

    def failure(self, error: Exception) -> ConfigError:
        """A ConfigError naming the layer (or the module whose own code) raised ``error``."""
        if not self.stack:
            return ConfigError(f"the model's forward failed: {error}")
        module = self.stack[-1]
        x = self.inputs.get(module)
        got = f" on input of shape {list(x.shape)}" if x is not None else ""
        is_layer = isinstance(module, _WHOLE) or not any(True for _ in module.children())
        where = f"layer '{self.names[module]}' ({module!r})" if is_layer else \
            f"the forward of '{self.names[module]}' ({type(module).__name__})"
        after = ""
        if not is_layer and self.rows:
            after = f", after layer '{self.names[self.last_done]}' gave {self.rows[-1].output_shape}"
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ConfigError(f"the forward pass failed in {where}{got}{after}: {message}.{_hint(module, x)}")

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _example_input(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None) -> torch.Tensor:
    """A random float batch (or zeros of token ids when the first layer is an embedding) of ``shape``."""
    params = [p for p in model.parameters() if p.is_floating_point()]
    device = params[0].device if params else torch.device("cpu")
    first_leaf = next((m for m in model.modules() if not any(True for _ in m.children())), None)
    if dtype is None and isinstance(first_leaf, nn.Embedding | nn.EmbeddingBag):
        dtype = torch.long
    dtype = dtype or (params[0].dtype if params else torch.float32)
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype, device=device)
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device=device, dtype=dtype)


def summary(model: nn.Module, input_shape: tuple[int, ...] | list[int], dtype: torch.dtype | None = None
            ) -> ModelSummary:
    """Per-layer output shape, parameters and MACs of ``model`` for one batch of ``input_shape``.

    Args:
        model: any ``nn.Module``; it is run in eval mode without gradients and left as it was.
        input_shape: the full batch shape, e.g. ``(1, 1, 28, 28)`` (MACs are for the whole batch).
        dtype: input dtype; default: the parameters' float dtype, or ``long`` when the first layer is
            an embedding.

    Raises:
        ConfigError: a bad ``input_shape``, or the forward pass failed; the message names the layer,
            its input shape and, for the usual mistakes (a wrong ``in_features``), the fix.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"summary needs an nn.Module, got {type(model).__name__}")
    shape = tuple(input_shape)
    if not shape or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ConfigError(f"input_shape must be positive integers, batch first (e.g. (1, 1, 28, 28)), got {shape}")
    modes = {m: m.training for m in model.modules()}
    tracer = _Tracer(model)
    try:
        model.eval()
        with torch.no_grad():
            output = model(_example_input(model, shape, dtype))
    except (RuntimeError, ValueError, IndexError, TypeError, AssertionError) as e:
        raise tracer.failure(e) from e
    finally:
        tracer.remove()
        for m, mode in modes.items():
            m.training = mode
    rows = tracer.rows + tracer.uncalled_rows()
    unique = {id(p): p for p in model.parameters()}.values()
    return ModelSummary(shape, _shape_text(output), rows, sum(p.numel() for p in unique),
                        sum(p.numel() for p in unique if p.requires_grad), sum(r.macs for r in rows))
