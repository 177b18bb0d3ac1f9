"""Optimization lab traces: book numbers, closed forms and the torch.optim twins (float64)."""

import math

import numpy as np
import pytest
import torch

from divekit.optlab import rules
from divekit.optlab.traces import (
    OBJECTIVES,
    SCHEDULES,
    cosh_problem,
    describe_1d,
    f_2d_grad,
    f_2d_stretched_grad,
    f_square_grad,
    gd,
    gd_2d,
    newton,
    noisy_grad,
    torch_train_2d,
    train_2d,
    trainer_2d,
    xcos_problem,
)


@pytest.mark.parametrize("lr, verdict", [(0.2, "converged"), (0.05, "slow progress"), (1.1, "diverged")])
def test_gd_1d_matches_closed_form_and_says_what_happened(lr, verdict):
    trace = gd(lr, f_square_grad)
    assert len(trace) == 11
    # x_t = 10 (1 - 2 lr)^t on f(x) = x^2
    np.testing.assert_allclose(trace, [10 * (1 - 2 * lr) ** t for t in range(11)], rtol=1e-12)
    assert describe_1d(trace).startswith(verdict)


def test_describe_1d_flags_oscillation_and_non_finite():
    assert "oscillating" in describe_1d(gd(1.1, f_square_grad))
    assert "oscillating" not in describe_1d(gd(0.2, f_square_grad))
    assert describe_1d([10.0, float("nan")]).startswith("diverged")


def test_gd_2d_end_point_is_the_books():
    x1, x2 = train_2d(gd_2d(0.1), steps=20, f_grad=f_2d_grad)[-1]
    assert abs(x1 - -0.0576) < 1e-4 and abs(x2 - -0.0001) < 1e-4
    # each coordinate contracts by (1 - 2 eta) and (1 - 4 eta) per step
    assert x1 == pytest.approx(-5 * 0.8**20, abs=1e-12)
    assert x2 == pytest.approx(-2 * 0.6**20, abs=1e-12)


def test_momentum_end_point_comes_from_the_stretched_function():
    trainer = trainer_2d("momentum", lr=0.6, momentum=0.5)
    x1, x2 = train_2d(trainer, steps=20, f_grad=f_2d_stretched_grad)[-1]
    assert abs(x1 - 0.0072) < 1e-4 and abs(x2 - 0.0026) < 1e-4
    # on x1^2 + 2 x2^2 the same run ends elsewhere: the book's number is for 0.1 x1^2 + 2 x2^2
    y1, _ = train_2d(trainer, steps=20, f_grad=f_2d_grad)[-1]
    assert abs(y1 - 0.0072) > 1e-3


@pytest.mark.parametrize("rule, hp, expected", [
    ("adagrad", {"lr": 0.4}, (-2.382563, -0.158591)),
    ("adagrad", {"lr": 2.0}, (-0.002295, -0.000000)),
    ("rmsprop", {"lr": 0.4, "gamma": 0.9}, (-0.010599, 0.000000)),
])
def test_adaptive_2d_end_points_are_the_books(rule, hp, expected):
    end = train_2d(trainer_2d(rule, **hp), steps=20, f_grad=f_2d_stretched_grad)[-1]
    np.testing.assert_allclose(end, expected, atol=1e-6)


def test_book_style_trainer_without_f_grad():
    def book_gd(x1, x2, s1, s2):  # the book's gd_2d with a hard-wired gradient
        return x1 - 0.1 * 2 * x1, x2 - 0.1 * 4 * x2, 0, 0

    assert train_2d(book_gd) == train_2d(gd_2d(0.1), f_grad=f_2d_grad)


TWINS = [
    ("sgd", {"lr": 0.1}),
    ("momentum", {"lr": 0.6, "momentum": 0.5}),
    ("adagrad", {"lr": 2.0, "eps": 1e-12}),
    ("rmsprop", {"lr": 0.4, "gamma": 0.9, "eps": 1e-12}),
    ("adadelta", {"rho": 0.9, "eps": 1e-3}),
    ("adam", {"lr": 0.2}),
]


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
@pytest.mark.parametrize("rule, hp", TWINS)
def test_lab_2d_rules_agree_with_torch_optim(rule, hp, objective):
    grad = OBJECTIVES[objective][1]
    lab = train_2d(trainer_2d(rule, **hp), steps=50, f_grad=grad)
    twin = torch_train_2d(rule, hp, grad, steps=50)
    np.testing.assert_allclose(lab, twin, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rule, hp", [("adagrad", {"lr": 2.0}), ("rmsprop", {"lr": 0.4, "gamma": 0.9})])
def test_eps_placement_differs_from_torch_only_slightly(rule, hp):
    # the book: g / sqrt(s + eps); torch: g / (sqrt(s) + eps). With eps = 1e-6 the paths stay close.
    lab = train_2d(trainer_2d(rule, **hp), steps=20, f_grad=f_2d_stretched_grad)
    twin = torch_train_2d(rule, hp, f_2d_stretched_grad, steps=20)
    diff = np.max(np.abs(np.array(lab) - np.array(twin)))
    assert 0 < diff < 1e-4


def test_rules_work_elementwise_on_tensors():
    x = torch.tensor([-5.0, -2.0], dtype=torch.float64)
    g = torch.tensor([0.3, -4.0], dtype=torch.float64)
    for name, hp in TWINS:
        step = rules.RULES[name]
        xt, _ = step(x, g, None, **hp)
        xs = [step(float(a), float(b), None, **hp)[0] for a, b in zip(x, g, strict=True)]
        np.testing.assert_allclose(xt.numpy(), xs, rtol=1e-12)


def test_unknown_rule_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer 'nesterov'"):
        rules.torch_twin("nesterov", [torch.zeros(1, requires_grad=True)], {"lr": 0.1})


def test_newton_on_cosh_converges_and_on_xcos_goes_the_wrong_way_without_care():
    _, g, h = cosh_problem(0.5)
    assert abs(newton(g, h)[-1]) < 1e-6
    f, g, h = xcos_problem(0.15 * math.pi)
    plain = newton(g, h, eta=1.0)[-1]
    assert plain == pytest.approx(26.834133, abs=1e-5)  # book: 26.8341, a local maximum
    assert abs(g(plain)) < 1e-8 and h(plain) < 0
    damped = newton(g, h, eta=0.5)[-1]
    assert damped == pytest.approx(7.269860, abs=1e-5)  # book: 7.2699, near a local minimum
    assert h(damped) > 0 and f(damped) < f(10.0)
    safe = newton(g, h, abs_hessian=True)[-1]
    assert abs(g(safe)) < 1e-8 and h(safe) > 0 and f(safe) < f(10.0)


def test_sgd_without_noise_is_gd_and_twin_replays_the_noise():
    exact = train_2d(gd_2d(0.1), steps=30, f_grad=f_2d_grad)
    no_noise = train_2d(trainer_2d("sgd", lr=0.1), steps=30, f_grad=noisy_grad(f_2d_grad, std=0.0))
    np.testing.assert_allclose(no_noise, exact, rtol=0, atol=1e-15)
    for name, schedule in SCHEDULES.items():
        hp = {"lr": 0.1, "schedule": schedule}
        lab = train_2d(trainer_2d("sgd", **hp), 50, f_grad=noisy_grad(f_2d_grad, 1.0, seed=3))
        twin = torch_train_2d("sgd", hp, noisy_grad(f_2d_grad, 1.0, seed=3), 50)
        np.testing.assert_allclose(lab, twin, rtol=0, atol=1e-9, err_msg=name)


def test_decaying_learning_rate_tames_the_noise():
    def mean_final_distance(schedule):
        trainer = trainer_2d("sgd", lr=0.1, schedule=schedule)
        runs = [train_2d(trainer, 50, f_grad=noisy_grad(f_2d_grad, 1.0, seed)) for seed in range(50)]
        return np.mean([math.hypot(*r[-1]) for r in runs])

    constant = mean_final_distance(SCHEDULES["constant"])
    polynomial = mean_final_distance(SCHEDULES["polynomial"])
    exponential = mean_final_distance(SCHEDULES["exponential"])
    assert polynomial < 0.8 * constant  # smaller late steps: less noise around the minimum
    assert exponential > 2 * constant  # decays so fast that it stalls before the minimum
