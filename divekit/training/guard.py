"""Watching a training run for NaN/Inf losses and gradients, before (CPU) or without waiting for (GPU) the step."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from divekit.errors import ConfigError, TrainingDiverged

if TYPE_CHECKING:
    from divekit.training.state import State

__all__ = ["NonFiniteGuard", "TrainingDiverged", "ON_NAN"]


ON_NAN = ("stop", "skip")


class NonFiniteGuard:
    """Watch the loss and the gradients for NaN/Inf, before the optimizer step can spread them.

    On the CPU every step is checked at once (it costs nothing). On a GPU a check would wait for the device,
    so with ``on_nan="stop"`` each step is recorded on the device and ``check()`` (epoch end, and before every
    checkpoint) raises, naming the first bad step; ``on_nan="skip"`` has to decide before stepping, so it checks
    each step. Under fp16 loss scaling, overflowing gradients are the scaler's business; only the loss is checked.
    """

    HELD = 1024  # deferred steps recorded before their records are folded into one result (no wait)

    def __init__(self, device: torch.device, on_nan: str = "stop", check_grads: bool = True) -> None:
        if on_nan not in ON_NAN:
            raise ConfigError(f"--on-nan must be one of {', '.join(ON_NAN)}, got {on_nan!r}")
        self.on_nan, self.check_grads = on_nan, check_grads
        self.eager = device.type == "cpu" or on_nan == "skip"
        self._found = torch.zeros(1, device=device)  # set by the finite check when a gradient is not
        self._one: torch.Tensor | None = torch.ones(1, device=device)
        # deferred records (made at the first one): slot i holds step _steps[i]'s loss and whether one of its
        # gradients was not finite; _flags are the slots as views made once, not one slice per step
        self._bad_grads: torch.Tensor | None = None
        self._flags: tuple[torch.Tensor, ...] = ()
        self._losses: list[torch.Tensor] = []
        self._steps: list[int] = []
        self._folded: list[tuple[list[int], torch.Tensor, torch.Tensor]] = []  # (steps, any bad, first bad slot)

    def step_ok(self, loss: torch.Tensor, model: torch.nn.Module, state: State,
                grad_norm: torch.Tensor | None = None) -> bool:
        """False when this step must be skipped; raises ``TrainingDiverged`` when training must stop.
        ``grad_norm``: the total gradient norm if already known (from clipping)."""
        loss = loss.detach()
        if not self.eager:
            grads = [grad_norm] if grad_norm is not None else self._grads(model, state) if self.check_grads else []
            self._record(loss, grads, state.step)
            return True
        finite = math.isfinite(loss.item())
        if finite and grad_norm is not None:
            finite = math.isfinite(grad_norm.item())
        elif finite and self.check_grads:
            finite = self._grads_finite(self._grads(model, state))
        if finite:
            return True
        if self.on_nan == "skip":
            return False
        what = f"loss is {loss.item()}" if not math.isfinite(loss.item()) else "a gradient is not finite"
        raise TrainingDiverged(f"{what} at step {state.step} (epoch {state.epoch + 1}); start a new run with a "
                               f"smaller --lr (now {state.lr:g}) or with --clip-grad (a resumed run keeps its own "
                               f"settings)")

    @staticmethod
    def _grads(model: torch.nn.Module, state: State) -> list[torch.Tensor]:
        """The gradients the optimizer is about to apply (a list at hand, no module walk)."""
        groups = state.optimizer.param_groups if state.optimizer is not None else [{"params": model.parameters()}]
        return [p.grad for group in groups for p in group["params"] if p.grad is not None]

    def _grads_finite(self, grads: list[torch.Tensor]) -> bool:
        """Whether every element of ``grads`` is finite (read back at once: the eager check)."""
        self._flag_non_finite(grads, self._found)
        if self._found.item() == 0:
            return True
        self._found.zero_()
        return False

    def _flag_non_finite(self, grads: list[torch.Tensor], flag: torch.Tensor) -> None:
        """Set ``flag`` (one float element on the device) to 1 if an element of ``grads`` is not finite, without
        reading anything back: per gradient dtype one multi-tensor pass (the kernel GradScaler uses, multiplying
        by exactly 1), or, where that kernel does not take them, a norm per tensor (finite exactly when every
        element is, short of an overflow past 3e38, which is divergence too)."""
        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for g in grads:
            by_dtype.setdefault(g.dtype, []).append(g)
        for group in by_dtype.values():
            if self._one is not None:
                try:
                    torch._amp_foreach_non_finite_check_and_unscale_(group, flag, self._one)
                    continue
                except (RuntimeError, AttributeError):
                    self._one = None
            flag.copy_(torch.maximum(flag, (~torch.isfinite(torch.stack(torch._foreach_norm(group)).sum())).float()))

    def _record(self, loss: torch.Tensor, grads: list[torch.Tensor], step: int) -> None:
        """File a step on the device without waiting: its loss is held and its gradients flag its slot
        (``_flag_non_finite``); every ``HELD`` steps the records are folded."""
        if self._bad_grads is None:
            self._bad_grads = torch.zeros(self.HELD, device=self._found.device)
            self._flags = self._bad_grads.split(1)
        self._flag_non_finite(grads, self._flags[len(self._steps)])
        self._losses.append(loss if loss.dim() == 0 else loss.reshape(()))
        self._steps.append(step)
        if len(self._steps) == self.HELD:
            self._fold()

    def _fold(self) -> None:
        """Reduce the held records to (any bad, first bad slot), still on the device."""
        if not self._steps:
            return
        n = len(self._steps)
        bad = ~torch.isfinite(torch.stack(self._losses).float()) | (self._bad_grads[:n] != 0)
        self._folded.append((self._steps, bad.any(), bad.to(torch.uint8).argmax()))
        self._bad_grads.zero_()
        self._losses, self._steps = [], []

    def check(self) -> None:
        """Raise ``TrainingDiverged`` if a step recorded on the device had a non-finite loss or gradient."""
        self._fold()
        for steps, any_bad, first in self._folded:
            if any_bad:
                self._folded = [(steps, any_bad, first)]  # stays bad: every later check raises too
                raise TrainingDiverged(f"the loss or a gradient was not finite at step {steps[int(first)]}; start "
                                       f"a new run with a smaller --lr or with --clip-grad (a resumed run keeps its "
                                       f"own settings)")
        self._folded = []
