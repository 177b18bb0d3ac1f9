"""The one table of option ranges (divekit.options): argparse types and API checks say the same thing."""

import argparse

import pytest

from divekit.errors import ConfigError
from divekit.options import RANGES, SEED_MAX, check, float_in, int_in, max_threads, parse


@pytest.mark.parametrize(
    ("rng", "good", "bad", "expected"),
    [
        (RANGES["lr"], ["1e-320", "1e38", "0.5"], ["0", "-1", "nan", "inf", "1e39", "x", ""], "in (0, 1e+38]"),
        (RANGES["momentum"], ["0", "0.999999", "0.5"], ["1", "1.5", "-0.1", "nan"], "in [0, 1)"),
        (float_in(0, 1, low_open=True), ["1", "1e-9"], ["0", "1.0000001"], "in (0, 1]"),
        (float_in(0), ["0", "1e308"], ["-1e-300", "inf"], ">= 0"),
        (float_in(), ["-1e308", "0"], ["nan", "-inf"], "a finite number"),
        (RANGES["width"], ["0.5", "16"], ["0", "1e308", "17"], "in (0, 16]"),
        (RANGES["gamma"], ["0.1", "1"], ["0", "1e30", "1.5"], "in (0, 1]"),
    ],
)
def test_float_ranges(rng, good, bad, expected):
    for text in good:
        assert rng.parse(text) == float(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError) as e:
            rng.parse(text)
        assert str(e.value).startswith("expected ") and expected in str(e.value)
        assert str(e.value).endswith(f", got {text!r}")


def test_int_ranges_and_seed():
    assert int_in(1, 3)("3") == 3 and int_in(1)("10000000000000000000000") == 10**22
    seed = parse("seed")
    assert seed("0") == 0 and seed(str(SEED_MAX)) == 2**32 - 1
    for text in ["-1", str(2**32), "1.5", "1e3", "9" * 5000, ""]:
        with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an integer from 0 to \d+, got "):
            seed(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an integer >= 1, got '0'$"):
        int_in(1)("0")


def test_threads_bound_follows_the_machine():
    threads = RANGES["threads"]
    assert threads.parse(str(max_threads())) == max_threads()
    for text in ("0", "100000", "3000000000"):  # 100,000 threads crash OpenMP; 3e9 overflows torch's int
        with pytest.raises(argparse.ArgumentTypeError, match=rf"from 1 to {max_threads()}"):
            threads.parse(text)


def test_check_is_the_api_form_of_the_same_range():
    assert check("epochs", 3) == 3
    for value in (0, 10**20, 2.5, "3", True, None):
        with pytest.raises(ConfigError, match=r"^--epochs: expected an integer from 1 to 10000, got "):
            check("epochs", value)
    with pytest.raises(ConfigError, match=r"^--lr: expected a number in \(0, 1e\+38\], got nan$"):
        check("lr", float("nan"))
    with pytest.raises(ConfigError, match=r"^num_classes: "):
        check("classes", 0, "num_classes")
