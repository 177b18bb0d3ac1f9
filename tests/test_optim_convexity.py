"""Convexity, Jensen's inequality and stationary points, checked numerically."""

import numpy as np
import pytest

from divekit.optlab.convexity import (
    SAMPLE_FUNCTIONS,
    classify_stationary,
    convexity_violation,
    critical_points,
    is_convex_numeric,
    jensen_gap,
    stationary_points,
)
from divekit.optlab.plots import plot_convexity, plot_critical_points


@pytest.mark.parametrize("name", list(SAMPLE_FUNCTIONS))
def test_convexity_definition_on_the_books_functions(name):
    f, convex = SAMPLE_FUNCTIONS[name]
    assert is_convex_numeric(f, -2.0, 2.0) is convex
    worst = convexity_violation(f, -2.0, 2.0)
    assert worst <= 1e-9 if convex else worst > 1.0  # cos(pi x): a chord dips almost 2 below the curve


def test_jensen_gap_is_half_the_variance_for_half_square():
    x = np.random.default_rng(1).normal(2.0, 3.0, size=5000)
    assert jensen_gap(lambda t: 0.5 * t**2, x) == pytest.approx(0.5 * np.var(x), rel=1e-12)


def test_jensen_holds_for_convex_and_can_fail_otherwise():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, w = rng.uniform(-2, 2, size=7), rng.uniform(0.1, 1.0, size=7)
        for f, convex in SAMPLE_FUNCTIONS.values():
            if convex:
                assert jensen_gap(f, x, w) >= -1e-12
    # two troughs of cos(pi x) around a peak: E[f(X)] = -1 < f(E[X]) = f(0) = 1
    assert jensen_gap(lambda t: np.cos(np.pi * t), np.array([-1.0, 1.0])) == pytest.approx(-2.0)


def test_local_and_global_minimum_of_x_cos_pi_x():
    f = lambda t: t * np.cos(np.pi * t)  # noqa: E731
    g = lambda t: np.cos(np.pi * t) - np.pi * t * np.sin(np.pi * t)  # noqa: E731
    points = critical_points(f, g, -1.0, 2.0)
    kinds = [kind for _, _, kind in points]
    assert kinds == ["local minimum", "local maximum", "global minimum"]
    xs = [x for x, _, _ in points]
    np.testing.assert_allclose(xs, [-0.273853, 0.273853, 1.090408], atol=1e-5)
    assert all(abs(g(x)) < 1e-9 for x in xs)


@pytest.mark.parametrize("hi", [2.0, 2.1])  # 0 on the grid, and 0 between grid points
def test_x_cubed_has_a_saddle_point_at_zero(hi):
    points = stationary_points(lambda t: 3 * t**2, -2.0, hi)
    assert len(points) == 1 and abs(points[0]) < 1e-6
    assert classify_stationary(lambda t: 3 * t**2, points[0]) == "saddle point"


def test_plots_have_titles_labels_and_legends():
    f, _ = SAMPLE_FUNCTIONS["0.5·x²"]
    fig = plot_convexity({"0.5·x²": f}, {"0.5·x²": "convex"})
    ax = fig.axes[0]
    assert "convex" in ax.get_title() and ax.get_xlabel() == "x" and ax.get_legend() is not None
    fig = plot_critical_points({"x³": (lambda t: t**3, -2.0, 2.0, [(0.0, 0.0, "saddle point")])})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("saddle point" in s for s in labels)
