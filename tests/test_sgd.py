"""divekit's own SGD against torch.optim.SGD: the same numbers bit for bit, the same state_dict."""

import pytest
import torch

from divekit.training.optimizers import SGD, build_optimizer, param_groups


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(7), torch.nn.ReLU(), torch.nn.Linear(7, 3))


def _train(model, opt, steps: int = 6, lrs=(0.1, 0.05, 0.2, 0.01, 0.3, 0.07)):
    torch.manual_seed(1)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lrs[step % len(lrs)]
        x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("momentum,nesterov,dampening,wd", [
    (0.0, False, 0.0, 0.0), (0.9, False, 0.0, 5e-4), (0.9, True, 0.0, 5e-4), (0.8, False, 0.1, 1e-2)])
def test_sgd_equals_torch_bitwise(momentum, nesterov, dampening, wd):
    ours_model, ref_model = _model(), _model()
    ours = SGD(param_groups(ours_model, wd), lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov)
    ref = torch.optim.SGD(param_groups(ref_model, wd), lr=0.1, momentum=momentum, dampening=dampening,
                          nesterov=nesterov)
    _train(ours_model, ours)
    _train(ref_model, ref)
    for a, b in zip(ours_model.state_dict().values(), ref_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # same operations in the same order: exactly equal, not just close


def test_state_dict_matches_torch_and_round_trips():
    ours_model, ref_model = _model(), _model()
    ours = SGD(param_groups(ours_model, 5e-4), lr=0.1, momentum=0.9, nesterov=True)
    ref = torch.optim.SGD(param_groups(ref_model, 5e-4), lr=0.1, momentum=0.9, nesterov=True)
    _train(ours_model, ours, 2)
    _train(ref_model, ref, 2)
    a, b = ours.state_dict(), ref.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert torch.equal(a["state"][i]["momentum_buffer"], b["state"][i]["momentum_buffer"])
    # torch's state loads into ours and training goes on identically
    fresh = SGD(param_groups(ref_model, 5e-4), lr=0.1, momentum=0.9, nesterov=True)
    fresh.load_state_dict(ref.state_dict())
    ref_copy = _model()
    ref_copy.load_state_dict(ref_model.state_dict())
    _train(ref_model, fresh, 3)
    ref2 = torch.optim.SGD(param_groups(ref_copy, 5e-4), lr=0.1, momentum=0.9, nesterov=True)
    ref2.load_state_dict(b)
    _train(ref_copy, ref2, 3)
    for x, y in zip(ref_model.state_dict().values(), ref_copy.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_build_optimizer_sgd_is_ours_and_checks_nesterov():
    model = _model()
    assert isinstance(build_optimizer("sgd", model, 0.1, momentum=0.9, nesterov=True), SGD)
    with pytest.raises(Exception, match="momentum"):
        build_optimizer("sgd", model, 0.1, momentum=0.0, nesterov=True)


def test_zero_grad_and_missing_grads():
    model = _model()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    opt.step()  # no gradients yet: nothing moves
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model(torch.randn(4, 5)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("momentum,nesterov,dampening,wd", [
    (0.0, False, 0.0, 0.0), (0.9, False, 0.0, 5e-4), (0.9, True, 0.0, 5e-4), (0.8, False, 0.1, 1e-2)])
def test_sgd_foreach_equals_torch_foreach_bitwise(momentum, nesterov, dampening, wd):
    # The multi-tensor path (the default on a GPU) forced on the CPU: the same numbers as torch's own, and as
    # our per-parameter path.
    models = [_model() for _ in range(3)]
    opts = [SGD(param_groups(models[0], wd), lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov),
            torch.optim.SGD(param_groups(models[1], wd), lr=0.1, momentum=momentum, dampening=dampening,
                            nesterov=nesterov, foreach=True),
            SGD(param_groups(models[2], wd), lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov)]
    for g in opts[0].param_groups:
        g["foreach"] = True
    for model, opt in zip(models, opts, strict=True):
        _train(model, opt)
    for a, b, c in zip(*(m.state_dict().values() for m in models), strict=True):
        assert torch.equal(a, b)
        assert torch.equal(a, c)


def test_sgd_foreach_with_some_buffers_missing():
    # a parameter that had no gradient on the first step gets its buffer later: the mixed step stays exact
    models = [_model() for _ in range(2)]
    opts = [SGD(param_groups(m, 5e-4), lr=0.1, momentum=0.9, nesterov=True) for m in models]
    for g in opts[0].param_groups:
        g["foreach"] = True
    for model, opt in zip(models, opts, strict=True):
        torch.manual_seed(2)
        model[3].weight.requires_grad_(False)
        _train(model, opt, 2)
        model[3].weight.requires_grad_(True)
        _train(model, opt, 3)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_sgd_takes_the_foreach_path_only_on_a_gpu_by_default():
    model = _model()
    opt = SGD(model.parameters(), lr=0.1)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.zeros_like(p)
    assert not opt._use_foreach(opt.param_groups[0], params)  # CPU tensors: the per-parameter loop
    assert not opt._use_foreach(opt.param_groups[0], [])
    assert opt._use_foreach({**opt.param_groups[0], "foreach": True}, params)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sgd_on_a_gpu_takes_the_foreach_path_and_equals_torch():
    models = [_model().cuda() for _ in range(2)]
    ours = SGD(param_groups(models[0], 5e-4), lr=0.1, momentum=0.9, nesterov=True)
    ref = torch.optim.SGD(param_groups(models[1], 5e-4), lr=0.1, momentum=0.9, nesterov=True)  # foreach on CUDA
    for p in models[0].parameters():
        p.grad = torch.zeros_like(p)
    assert ours._use_foreach(ours.param_groups[0], list(ours.param_groups[0]["params"]))
    for model, opt in zip(models, (ours, ref), strict=True):
        torch.manual_seed(1)
        for _ in range(4):
            x, y = torch.randn(16, 5, device="cuda"), torch.randint(0, 3, (16,), device="cuda")
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
