"""The range-checking argparse types shared by ``divekit optim`` and ``divekit scratch``."""

import argparse

import pytest

from divekit.options import SEED_MAX, float_in, fraction, int_in, positive_float, seed


@pytest.mark.parametrize(
    ("parse", "good", "bad", "expected"),
    [
        (positive_float, ["1e-320", "1e308", "0.5"], ["0", "-1", "nan", "inf", "1e309", "x", ""], "> 0"),
        (fraction, ["0", "0.999999", "0.5"], ["1", "1.5", "-0.1", "nan"], "in [0, 1)"),
        (float_in(0, 1, low_open=True), ["1", "1e-9"], ["0", "1.0000001"], "in (0, 1]"),
        (float_in(0), ["0", "1e308"], ["-1e-300", "inf"], ">= 0"),
        (float_in(), ["-1e308", "0"], ["nan", "-inf"], "a finite number"),
    ],
)
def test_float_in(parse, good, bad, expected):
    for text in good:
        assert parse(text) == float(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError) as e:
            parse(text)
        assert str(e.value).startswith("expected ") and expected in str(e.value)
        assert str(e.value).endswith(f", got {text!r}")


def test_int_in_and_seed():
    assert int_in(1, 3)("3") == 3 and int_in(1)("10000000000000000000000") == 10**22
    assert seed("0") == 0 and seed(str(SEED_MAX)) == 2**63 - 1
    for text in ["-1", str(2**63), "1.5", "1e3", "9" * 5000, ""]:
        with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an integer from 0 to \d+, got "):
            seed(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an integer >= 1, got '0'$"):
        int_in(1)("0")
