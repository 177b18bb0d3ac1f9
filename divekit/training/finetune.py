"""Fine-tuning: a run that starts from earlier weights (``--init``) instead of a fresh initialisation.

``--init`` names a finished divekit run (its ``model.safetensors``), a ``.safetensors`` file, or a ``.pth``/``.pt``
state dict (read with ``torch.load(weights_only=True)``: tensors only, nothing is executed). Tensors are matched
to the model by name and shape. The output layer (the model's last layer with parameters) starts afresh when
the classes differ: for a divekit run, when its class names differ from this data's; for a bare state dict,
when the layer's shape differs. Any other tensor that does not fit stops the run with one line naming it.

Rates while fine-tuning: the output layer trains at the scheduled rate and earlier layers at less, down to
``finetune_lr_ratio`` × the rate for the first layer, in geometric steps (discriminative rates: early layers
hold general features that need only small changes). ``freeze_epochs`` first trains the output layer alone for
that many epochs, so that the fresh head's large early gradients never reach the pretrained layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from divekit.errors import CheckpointError, ConfigError
from divekit.training.config import TrainConfig
from divekit.training.rundir import check_finite, misfit, read_config, read_weights
from divekit.training.state import State
from divekit.training.tasks import Prepared

SUFFIXES = (".safetensors", ".pth", ".pt")


@dataclass
class Pretrained:
    """Weights read from ``--init``: the tensors, where they came from, and what the source run says of them
    (its model and classes; None for a bare state dict)."""

    tensors: dict[str, torch.Tensor]
    path: Path
    model: str | None = None
    classes: list[str] | None = None
    in_shape: list[int] | None = None


def read_pretrained(source: str) -> Pretrained:
    """The weights ``source`` names (see the module docstring); ``ConfigError``/``CheckpointError`` naming it."""
    path = Path(source)
    if path.is_dir():
        return _read_run(path)
    if not path.is_file():
        raise ConfigError(f"--init {source}: no such run directory or weights file")
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"--init {source}: expected a run directory or a {', '.join(SUFFIXES)} file")
    tensors = read_weights(path) if path.suffix == ".safetensors" else _read_torch(path)
    prefix = "module."  # what DistributedDataParallel and DataParallel put before every name
    if tensors and all(k.startswith(prefix) for k in tensors):
        tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    check_finite(tensors, path)
    return Pretrained(tensors, path.resolve())


def _read_run(run_dir: Path) -> Pretrained:
    weights = run_dir / "model.safetensors"
    if not weights.is_file():
        raise ConfigError(f"--init {run_dir}: no model.safetensors (not a finished divekit run)")
    config, meta = read_config(run_dir)
    tensors = read_weights(weights)
    check_finite(tensors, weights)
    classes, in_shape = meta.get("classes"), meta.get("in_shape")
    return Pretrained(tensors, weights.resolve(), config.model, list(classes) if isinstance(classes, list) else None,
                      list(in_shape) if isinstance(in_shape, list) else None)


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    """A state dict saved with ``torch.save``, unpickled with ``weights_only=True`` (tensors and plain containers
    only); a checkpoint that wraps it as ``{"state_dict": …}`` or ``{"model": …}`` is unwrapped."""
    import pickle

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a state dict that loads safely (weights_only=True: {first})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise CheckpointError(f"{path}: expected a state dict (names → tensors), found {type(loaded).__name__}")
    return {str(k): v for k, v in loaded.items()}


def output_layer(model: nn.Module, num_classes: int) -> tuple[str, nn.Module]:
    """``(name, module)`` of the model's output layer: its last module with parameters of its own, which must
    produce ``num_classes`` outputs."""
    owners = [(name, m) for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    if owners:
        name, module = owners[-1]
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.dim() and weight.shape[0] == num_classes:
            return name, module
    raise ConfigError(f"cannot tell this model's output layer (its last layer with parameters does not have "
                      f"{num_classes} outputs), so it cannot be fine-tuned from other weights")


def load_pretrained(model: nn.Module, pretrained: Pretrained, classes: list[str], model_name: str,
                    in_shape: list[int] | None = None) -> dict[str, Any]:
    """Copy ``pretrained`` into ``model`` (built for ``classes`` and inputs of ``in_shape``), the output layer kept
    fresh when the classes differ; what was done, for the run's config.json. ``CheckpointError`` naming the
    tensors that do not fit (and, from an image run, the two input shapes when they differ)."""
    head, _ = output_layer(model, len(classes))
    head_keys = {k for k in model.state_dict() if k.startswith(f"{head}.")}
    expected = model.state_dict()
    saved = pretrained.tensors
    same_head = all(k in saved and saved[k].shape == expected[k].shape for k in head_keys)
    if pretrained.classes is not None:
        same_head = same_head and pretrained.classes == list(classes)
    body_expected = {k: v for k, v in expected.items() if k not in head_keys}
    body_saved = {k: v for k, v in saved.items() if k not in head_keys}
    if body_saved.keys() != body_expected.keys() or any(v.shape != body_expected[k].shape
                                                         for k, v in body_saved.items()):
        source = f" (model {pretrained.model})" if pretrained.model and pretrained.model != model_name else ""
        raise CheckpointError(f"--init {pretrained.path}{source}: weights do not fit {model_name}: "
                              f"{misfit(body_expected, body_saved)}{_input_hint(pretrained.in_shape, in_shape)}")
    chosen = {**body_saved, **({k: saved[k] for k in head_keys} if same_head else {})}
    model.load_state_dict(chosen, strict=False)
    replaced = [] if same_head else sorted(head_keys)
    if replaced:
        print(f"--init: {len(body_saved)} tensors loaded from {pretrained.path}; output layer {head!r} starts afresh "
              f"for the {len(classes)} classes of this data", flush=True)
    return {"source": str(pretrained.path), "loaded": len(chosen), "output_layer": head, "replaced": replaced}


def _input_hint(saved: list[int] | None, here: list[int] | None) -> str:
    """Why image weights may not fit: the run learned from other inputs (channels, or a size a dense layer
    depends on), and what makes this data's images match."""
    if not saved or not here or list(saved) == list(here) or len(saved) != 3 or len(here) != 3:
        return ""
    hint = f"; that run learned from {'×'.join(map(str, saved))} inputs, this data gives {'×'.join(map(str, here))}"
    if saved[1:] != here[1:] and saved[1] == saved[2]:  # a square size: one --image-size gives it
        hint += f" (--image-size {saved[1]} decodes image folders at {saved[1]}×{saved[2]})"
    return hint


def layer_multipliers(model: nn.Module, ratio: float) -> dict[int, float]:
    """``id(parameter) → rate multiplier``: the layers with trainable parameters, in order, from ``ratio`` (the
    first) to 1 (the last, the output layer) in geometric steps."""
    layers = [[p for p in m.parameters(recurse=False) if p.requires_grad] for m in model.modules()]
    layers = [ps for ps in layers if ps]
    last = max(len(layers) - 1, 1)
    return {id(p): ratio ** ((last - i) / last) if len(layers) > 1 else 1.0
            for i, ps in enumerate(layers) for p in ps}


def split_groups(optimizer: torch.optim.Optimizer, multipliers: dict[int, float]) -> None:
    """Split each parameter group of ``optimizer`` (before its first step) into one group per rate multiplier,
    kept in the group as ``lr_mult`` (``fit`` sets each group's rate to the scheduled rate times it)."""
    groups = []
    for group in optimizer.param_groups:
        by_mult: dict[float, list[torch.Tensor]] = {}
        for p in group["params"]:
            by_mult.setdefault(multipliers.get(id(p), 1.0), []).append(p)
        groups += [{**group, "params": ps, "lr_mult": mult} for mult, ps in sorted(by_mult.items())]
    optimizer.param_groups = groups


class HeadFirst:
    """Callback: for the first ``epochs`` epochs only the output layer trains (the other layers' parameters
    take no gradient); then every layer trains. Set from ``state.epoch``, so a resumed run is in the same
    phase as an uninterrupted one at the same step."""

    def __init__(self, body: list[nn.Parameter], epochs: int) -> None:
        self.body, self.epochs = body, epochs

    def _set(self, epoch: int) -> None:
        for p in self.body:
            p.requires_grad_(epoch >= self.epochs)

    def on_train_start(self, state: State) -> None:
        self._set(state.epoch)

    def on_epoch_end(self, state: State) -> None:
        self._set(state.epoch)

    def on_train_end(self, state: State) -> None:
        self._set(self.epochs)


@dataclass
class FineTune:
    """A run fine-tuning ``model``: the output layer's name and the optimizer's rates by layer."""

    config: TrainConfig
    model: nn.Module
    head: str

    def prepare_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Discriminative rates: ``optimizer``'s groups split by layer (before a checkpoint is loaded into it,
        so that a resumed run has the same groups)."""
        split_groups(optimizer, layer_multipliers(self.model, self.config.finetune_lr_ratio))

    def head_first(self) -> HeadFirst:
        body = [p for name, p in self.model.named_parameters()
                if p.requires_grad and not name.startswith(f"{self.head}.")]
        return HeadFirst(body, self.config.freeze_epochs)


def start(config: TrainConfig, prepared: Prepared) -> FineTune | None:
    """Load ``config.init`` into the prepared model, note it in the run's meta and add the head-first callback
    (``freeze_epochs``); None without ``--init``."""
    if not config.init:
        return None
    if config.task != "classification":
        raise ConfigError("--init: fine-tuning is for classification runs (image or text data)")
    classes = list(prepared.meta.get("classes") or [])
    prepared.meta["init"] = load_pretrained(prepared.model, read_pretrained(config.init), classes, config.model,
                                            prepared.meta.get("in_shape"))
    tuning = FineTune(config, prepared.model, prepared.meta["init"]["output_layer"])
    if config.freeze_epochs:
        prepared.callbacks.insert(0, tuning.head_first())
    return tuning
