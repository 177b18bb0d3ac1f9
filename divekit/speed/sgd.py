"""divekit's SGD: the update of ``torch.optim.SGD``, bit for bit, with the same ``state_dict``, computed faster.

The first step of any ``torch.optim`` optimizer imports ``torch._dynamo`` (about 1.6 s on a 2-core CPU, a tenth
of the default run), even when nothing is compiled; each later step is also cheaper here (no profiler record,
hooks or functional dispatch: ~0.1 ms a step less on a 2-core CPU, docs/benchmarks.md). It is a fast path of
``divekit.speed``: with fast paths off, ``divekit.training.optimizers`` builds ``torch.optim.SGD`` instead.
``tests/test_sgd.py`` checks both give the same numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from divekit.errors import ConfigError


class SGD:
    """Stochastic gradient descent with momentum, Nesterov and weight decay, as ``torch.optim.SGD`` does it.

    For each parameter ``p`` with gradient ``g``: ``g ← g + λ·p``; ``b ← g`` on the first step, then
    ``b ← μ·b + (1 − dampening)·g``; the direction is ``g + μ·b`` (Nesterov) or ``b``; ``p ← p − lr·direction``.
    ``param_groups``, ``state``, ``zero_grad``, ``step``, ``state_dict`` and ``load_state_dict`` follow
    ``torch.optim.Optimizer``, so schedules, GradScaler and checkpoints use it unchanged.

    Args:
        params: parameters, or a list of group dicts (``{"params": [...], "weight_decay": ...}``).
        lr, momentum, dampening, weight_decay, nesterov: as in ``torch.optim.SGD``.
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and no dampening")
        self.defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                         "nesterov": nesterov, "maximize": False, "foreach": None, "differentiable": False,
                         "fused": None}
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict[str, Any]] = [{**self.defaults, **g, "params": list(g["params"])}
                                                   for g in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        params = [p for p in group["params"] if p.grad is not None]
        if self._use_foreach(group, params):
            self._step_foreach(group, params)
            return
        lr, wd = group["lr"], group["weight_decay"]
        for p in params:
            g = -p.grad if group["maximize"] else p.grad
            if wd != 0:
                g = g.add(p, alpha=wd)
            p.add_(self._direction(p, g, group), alpha=-lr)

    @staticmethod
    def _use_foreach(group: dict[str, Any], params: list[torch.Tensor]) -> bool:
        """``group["foreach"]`` if set; by default, as ``torch.optim.SGD`` decides: multi-tensor ops when every
        parameter is on one CUDA device with one dtype (each op a kernel launch: a few instead of three per
        parameter), the per-parameter loop on the CPU (where it is as fast, and skips the lists)."""
        if not params:
            return False
        foreach = group["foreach"]
        if foreach is None:  # params[0] first: on the CPU the answer costs one look
            foreach = params[0].is_cuda and len({(p.device, p.dtype) for p in params}) == 1
        return bool(foreach) and not any(p.grad.is_sparse for p in params)

    def _step_foreach(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """The same update as the per-parameter loop, with multi-tensor ops, as ``torch.optim.SGD(foreach=True)``
        (and in its order, so the numbers are the same)."""
        mu, wd = group["momentum"], group["weight_decay"]
        grads = [p.grad for p in params]
        if group["maximize"]:
            grads = torch._foreach_neg(grads)
        if wd != 0:
            grads = torch._foreach_add(grads, params, alpha=wd)
        if mu != 0:
            bufs = [self.state.get(p, {}).get("momentum_buffer") for p in params]
            if all(b is not None for b in bufs):
                torch._foreach_mul_(bufs, mu)
                torch._foreach_add_(bufs, grads, alpha=1 - group["dampening"])
            else:  # a first step (for some of them): each buffer made or updated on its own
                bufs = [self._momentum(p, g, group) for p, g in zip(params, grads, strict=True)]
            grads = torch._foreach_add(grads, bufs, alpha=mu) if group["nesterov"] else bufs
        torch._foreach_add_(params, grads, alpha=-group["lr"])

    def _direction(self, p: torch.Tensor, g: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        """The step's direction for ``p`` with gradient ``g``: ``g`` without momentum, else the updated
        momentum buffer (``_momentum``), plus ``g`` for Nesterov (``g + μ·b``)."""
        mu = group["momentum"]
        if mu == 0:
            return g
        buf = self._momentum(p, g, group)
        return g.add(buf, alpha=mu) if group["nesterov"] else buf

    def _momentum(self, p: torch.Tensor, g: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        """``p``'s momentum buffer, updated with gradient ``g``: ``b ← g`` on the first step, then
        ``b ← μ·b + (1 − dampening)·g``."""
        buf = self.state.get(p, {}).get("momentum_buffer")
        if buf is None:
            buf = self.state.setdefault(p, {})["momentum_buffer"] = torch.clone(g).detach()
        else:
            buf.mul_(group["momentum"]).add_(g, alpha=1 - group["dampening"])
        return buf

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {"momentum_buffer": tensor}}, "param_groups": [...]}``, numbered as torch does."""
        index = {p: i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            settings = {k: v for k, v in group.items() if k != "params"}
            groups.append({**settings, "params": list(range(start, start + n))})
            start += n
        state = {index[p]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        params = self._params()
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups, strict=True)):
            raise ValueError("the saved parameter groups do not match this optimizer's")
        for group, old in zip(self.param_groups, saved, strict=True):
            group.update({k: v for k, v in old.items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: v.to(device=p.device, dtype=p.dtype, copy=True) if isinstance(v, torch.Tensor) else v
                             for k, v in values.items()}
