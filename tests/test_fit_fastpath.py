"""The cheap per-step bookkeeping of ``fit``: deferred epoch sums and the one-reduction finite check must
give exactly what the straightforward per-step versions give."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from divekit.training.config import TrainConfig
from divekit.training.fit import EpochSums, NonFiniteGuard, TrainingDiverged, new_state


def batches(n: int, seed: int = 0):
    """``n`` batches of (mean loss float32, logits [B, 3] with ties, labels [B]) of varying size B."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        b = int(torch.randint(1, 40, (), generator=gen))
        loss = (torch.rand((), generator=gen) * 10 ** float(torch.randint(-4, 9, (), generator=gen))).float()
        out = torch.randint(0, 3, (b, 3), generator=gen).float()  # small integers: many tied maxima
        yield loss, out, torch.randint(0, 3, (b,), generator=gen)


@pytest.mark.parametrize("pending,held", [(1024, 1 << 20), (7, 50), (1, 1)])
def test_deferred_sums_equal_the_per_step_sums_bit_for_bit(pending, held, monkeypatch):
    monkeypatch.setattr(EpochSums, "PENDING", pending)
    monkeypatch.setattr(EpochSums, "HELD", held)
    sums = EpochSums.zeros(torch.device("cpu"))
    loss_ref = torch.zeros((), dtype=torch.float64)
    correct_ref = torch.zeros((), dtype=torch.int64)
    for i, (loss, out, y) in enumerate(batches(300)):
        sums.add(loss, y, out)
        loss_ref += loss.double() * len(y)
        correct_ref += (out.argmax(1) == y).sum()
        if i == 150:  # a mid-epoch read (a checkpoint) must not change what follows
            assert torch.equal(sums.loss, loss_ref) and torch.equal(sums.correct, correct_ref)
    assert torch.equal(sums.loss, loss_ref)  # float64, same rounding
    assert torch.equal(sums.correct, correct_ref)
    assert sums.seen == sum(len(y) for _, _, y in batches(300))


def test_outputs_of_different_shapes_are_counted_together():
    sums = EpochSums.zeros(torch.device("cpu"))
    a, b = torch.tensor([[[0.0, 1.0]], [[2.0, 0.0]]]), torch.tensor([[[0.0, 1.0, 1.0]], [[0.0, 5.0, 0.0]]])
    sums.add(torch.tensor(1.0), torch.tensor([[0, 1]]), a.permute(1, 0, 2))  # [1, 2 classes, 2 steps]
    sums.add(torch.tensor(1.0), torch.tensor([[1, 1, 0]]), b.permute(1, 0, 2))  # [1, 2 classes, 3 steps]
    expected = (a.permute(1, 0, 2).argmax(1) == torch.tensor([[0, 1]])).sum() + (
        b.permute(1, 0, 2).argmax(1) == torch.tensor([[1, 1, 0]])).sum()
    assert int(sums.correct) == int(expected)


def model_with_grads(bad: dict[int, float]) -> tuple[nn.Module, object]:
    """A small model whose gradients are finite except ``bad``: parameter index → value put in one element."""
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    model(torch.randn(8, 4)).sum().backward()
    for i, value in bad.items():
        list(model.parameters())[i].grad.view(-1)[1] = value
    return model, new_state(model, TrainConfig(epochs=1), 10, torch.device("cpu"))


def test_finite_steps_pass():
    model, state = model_with_grads({})
    assert NonFiniteGuard(torch.device("cpu")).step_ok(torch.tensor(0.5), model, state)


@pytest.mark.parametrize("bad,loss,message", [
    ({0: float("inf")}, 0.5, "a gradient is not finite"),
    ({3: float("nan")}, 0.5, "a gradient is not finite"),
    ({0: float("inf"), 2: float("-inf")}, 0.5, "a gradient is not finite"),  # would cancel in a careless sum
    ({}, float("nan"), "loss is nan"),
    ({}, float("-inf"), "loss is -inf"),
])
@pytest.mark.parametrize("multi_tensor", [True, False])
def test_any_non_finite_element_stops_or_skips(bad, loss, message, multi_tensor):
    model, state = model_with_grads(bad)
    state.step = 4
    stop, skip = NonFiniteGuard(torch.device("cpu")), NonFiniteGuard(torch.device("cpu"), "skip")
    if not multi_tensor:  # the one-sum-per-tensor fallback
        stop._one = skip._one = None
    before = [p.grad.clone() for p in model.parameters()]
    with pytest.raises(TrainingDiverged, match=f"{message} at step 4"):
        stop.step_ok(torch.tensor(loss), model, state)
    assert not skip.step_ok(torch.tensor(loss), model, state)
    assert skip.step_ok(torch.tensor(0.5), *model_with_grads({})), "a good step after a skipped one passes"
    for b, p in zip(before, model.parameters(), strict=True):  # the check leaves the gradients as they were
        assert torch.equal(b.nan_to_num(1.5), p.grad.nan_to_num(1.5))


def test_deferred_check_records_the_first_bad_step():
    model, state = model_with_grads({1: float("nan")})
    guard = NonFiniteGuard(torch.device("cpu"))
    guard.eager = False  # as on a GPU
    state.step = 3
    assert guard.step_ok(torch.tensor(0.5), model, state)
    state.step = 5
    assert guard.step_ok(torch.tensor(0.5), model, state)
    with pytest.raises(TrainingDiverged, match="at step 3"):
        guard.check()


def test_deferred_check_waits_for_nothing_per_step_and_names_the_first_bad_step_across_folds(monkeypatch):
    """As on a GPU: no step reads a value back (each would wait for the device); the records are folded every
    ``HELD`` steps and ``check()`` names the first bad step, by gradient or by loss, whichever came first."""
    monkeypatch.setattr(NonFiniteGuard, "HELD", 4)
    model, state = model_with_grads({})
    guard = NonFiniteGuard(torch.device("cpu"))
    guard.eager = False
    reads = []
    real_item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda t: reads.append(1) or real_item(t))
    grad = list(model.parameters())[2].grad
    for step in range(11):
        state.step = step
        grad.view(-1)[0] = float("nan") if step == 6 else 0.5
        assert guard.step_ok(torch.tensor(float("inf") if step == 9 else 0.5), model, state)
        assert (step == 6) == bool(torch.isnan(grad.view(-1)[0])), "the check leaves the gradients as they were"
        if step == 5:
            guard.check()  # steps 0–5 were fine
    assert not reads
    with pytest.raises(TrainingDiverged, match="at step 6"):
        guard.check()
    with pytest.raises(TrainingDiverged, match="at step 6"):  # and it stays so
        guard.check()
    loss_only = NonFiniteGuard(torch.device("cpu"), check_grads=False)  # fp16: the scaler watches gradients
    loss_only.eager = False
    for step in range(3):
        state.step = step
        loss_only.step_ok(torch.tensor(float("nan") if step == 2 else 0.5), model, state)
    with pytest.raises(TrainingDiverged, match="at step 2"):
        loss_only.check()
    clipped = NonFiniteGuard(torch.device("cpu"))  # with --clip-grad the total norm stands for the gradients
    clipped.eager = False
    for step, norm in enumerate((1.0, float("inf"), 2.0)):
        state.step = step
        clipped.step_ok(torch.tensor(0.5), model, state, grad_norm=torch.tensor(norm))
    with pytest.raises(TrainingDiverged, match="at step 1"):
        clipped.check()
