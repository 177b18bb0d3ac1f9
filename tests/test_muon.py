"""Muon: the Gram-form Newton–Schulz equals the plain iteration, the groups split a model as documented, the
step is Muon's (checked against torch.optim.Muon where torch has it) and SGD's elsewhere, resume is exact."""

import pytest
import torch
from torch import nn

from divekit.models.registry import build_model
from divekit.training.muon import LR_SCALE, NEWTON_SCHULZ, Muon, muon_groups, orthogonalize
from divekit.training.optimizers import SGD, build_optimizer, param_groups


def newton_schulz_plain(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The iteration as Muon's authors write it, on ``X`` itself."""
    a, b, c = NEWTON_SCHULZ
    x = g / (g.norm() + 1e-7)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(48, 216), (96, 768), (12, 12), (300, 20), (1, 9)])
def test_orthogonalize_is_the_newton_schulz_iteration_and_flattens_the_spectrum(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = orthogonalize(g)
    torch.testing.assert_close(ours, newton_schulz_plain(g), rtol=0, atol=1e-10)
    singular = torch.linalg.svdvals(ours)
    assert singular.min() > 0.6 and singular.max() < 1.25  # U Vᵀ has all ones; 5 steps land in ~[0.68, 1.14]
    torch.testing.assert_close(orthogonalize(g.float()), ours.float(), rtol=0, atol=1e-4)  # float32 is enough
    assert torch.equal(orthogonalize(torch.zeros(3, 4)), torch.zeros(3, 4))  # no NaN from a zero gradient


def test_groups_put_hidden_weights_in_muon_and_the_rest_in_sgd():
    model = build_model("fastcnn", (1, 28, 28), 10)
    groups = muon_groups(model, 5e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    muon = [names[id(p)] for p in groups[0]["params"]]
    conv2 = next(n for n, p in model.named_parameters() if p.ndim == 4 and p.requires_grad)
    hidden, output = (n for n, p in model.named_parameters() if p.ndim == 2)
    assert groups[0]["muon"] and groups[0]["lr_scale"] == LR_SCALE and muon == [conv2, hidden]
    assert [names[id(p)] for p in groups[1]["params"]] == [output] and groups[1]["weight_decay"] == 5e-4
    assert all(p.ndim == 1 for p in groups[2]["params"]) and groups[2]["weight_decay"] == 0.0
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert sorted(names[id(p)] for g in groups for p in g["params"]) == sorted(trainable)  # frozen whitening out
    only_output = muon_groups(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), 0.0)
    assert not any(g.get("muon") for g in only_output)  # softmax regression: nothing hidden, plain SGD


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(),
                         nn.Linear(12, 3))


def train(model: nn.Module, opt, steps: int, gen: torch.Generator | None = None, lr: float = 0.2) -> None:
    gen = gen or torch.Generator().manual_seed(1)
    for _ in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr  # as fit sets the scheduled rate on every group
        x, y = torch.randn(32, 6, generator=gen), torch.randint(0, 3, (32,), generator=gen)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def test_first_step_is_the_orthogonalized_gradient_and_sgd_elsewhere():
    ours_model, sgd_model = mlp(), mlp()
    ours = build_optimizer("muon", ours_model, 0.2, 0.9, True, 5e-4)
    assert isinstance(ours, Muon)
    sgd = SGD(param_groups(sgd_model, 5e-4), lr=0.2, momentum=0.9, nesterov=True)
    before = [p.detach().clone() for p in ours_model.parameters()]
    train(ours_model, ours, 1)
    train(sgd_model, sgd, 1)
    hidden = {id(ours_model[0].weight), id(ours_model[3].weight)}
    lr = 0.2 * LR_SCALE
    for w0, p, q in zip(before, ours_model.parameters(), sgd_model.parameters(), strict=True):
        if id(p) in hidden:  # first step: buffer = g, Nesterov direction (1 + μ)·g, orthogonalized
            scale = max(1.0, p.shape[0] / p.shape[1]) ** 0.5  # a tall matrix's rows get longer steps
            expected = w0 * (1 - lr * 5e-4) - lr * scale * orthogonalize(p.grad * 1.9)
            torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-6)
        else:
            assert torch.equal(p, q)  # biases, batch norm and the output layer: SGD, bit for bit


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="torch.optim.Muon arrived in torch 2.9")
def test_hidden_weights_move_as_torch_optim_muon_moves_them():
    """torch's Muon orthogonalizes in bfloat16, so the two agree to bfloat16's precision, not bit for bit."""
    ours_model, ref_model = mlp(), mlp()
    ours = build_optimizer("muon", ours_model, 0.2, 0.9, True, 5e-4)
    hidden = [ref_model[0].weight, ref_model[3].weight]
    ref = torch.optim.Muon(hidden, lr=0.2 * LR_SCALE, weight_decay=5e-4, momentum=0.9, nesterov=True)
    others = [p for p in ref_model.parameters() if all(p is not w for w in hidden)]
    rest = SGD([{"params": [p for p in others if p.ndim > 1], "weight_decay": 5e-4},
                {"params": [p for p in others if p.ndim == 1], "weight_decay": 0.0}], lr=0.2, momentum=0.9,
               nesterov=True)
    start = [w.detach().clone() for w in hidden]
    for _ in range(3):
        train(ours_model, ours, 1)
        ref_model.zero_grad(set_to_none=True)
        train(ref_model, _Both(ref, rest), 1)
    for w0, a, b in zip(start, (ours_model[0].weight, ours_model[3].weight), hidden, strict=True):
        moved_ours, moved_ref = a.detach() - w0, b.detach() - w0
        assert (moved_ours - moved_ref).norm() < 0.03 * moved_ref.norm()


class _Both:
    """Two optimizers stepped as one (torch's Muon for hidden weights, SGD for the rest)."""

    def __init__(self, muon, sgd) -> None:
        self.parts = (muon, sgd)
        self.param_groups = [{"lr": 0.2}]  # train() sets it; each part keeps its own rate

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            part.step()


def test_state_dict_round_trip_resumes_exactly():
    straight_model, resumed_model = mlp(), mlp()
    straight = build_optimizer("muon", straight_model, 0.2, 0.9, True, 5e-4)
    train(straight_model, straight, 5)
    first = build_optimizer("muon", resumed_model, 0.2, 0.9, True, 5e-4)
    gen = torch.Generator().manual_seed(1)
    train(resumed_model, first, 2, gen)
    saved_model, saved_opt = resumed_model.state_dict(), first.state_dict()
    assert saved_opt["param_groups"][0]["muon"] and saved_opt["param_groups"][0]["lr_scale"] == LR_SCALE
    fresh_model = mlp(seed=5)
    fresh_model.load_state_dict(saved_model)
    again = build_optimizer("muon", fresh_model, 0.2, 0.9, True, 5e-4)
    again.load_state_dict(saved_opt)
    train(fresh_model, again, 3, gen)  # the same batches as steps 3–5 of the straight run
    for a, b in zip(straight_model.state_dict().values(), fresh_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_muon_checks_nesterov_like_sgd():
    from divekit.errors import ConfigError

    with pytest.raises(ConfigError, match="--nesterov needs --momentum > 0"):
        build_optimizer("muon", mlp(), 0.1, 0.0, True)
