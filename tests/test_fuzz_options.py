"""Property-based test over every numeric option of every command (hypothesis).

Whatever text is given to a numeric option, the command either accepts it and gets as far as its real work, or
ends with one ``error: …`` line and exit status 2 — never ``error: unexpected …`` (exit 1), a traceback, a
signal, or a run folder left behind by a refused option. The real work itself (training steps, the lessons,
the lab's experiments, the gradient-flow recording) is replaced by a stub that stops the command once
everything before it, every check included, has run: an accepted ``--epochs 10000`` must not train here.

``DIVEKIT_FUZZ_EXAMPLES`` (default 5) sets the examples per option; ``DIVEKIT_FUZZ_LOG=path`` appends one JSON
line per example (command, option, value, outcome) for counting a longer campaign.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.cli import build_parser, main

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "5"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TRAIN = ["--data", "fashion-mnist-mini", "--model", "softmax", "--epochs", "1", "--threads", "1"]
# command -> the arguments every example starts from (the option under test is added to them)
BASES: dict[tuple[str, ...], list[str]] = {
    ("train",): TRAIN,
    ("kfold",): [*TRAIN, "--k", "2"],
    ("summary",): ["mlp"],
    ("inspect",): ["--model", "mlp-relu-xavier"],
    ("scratch",): ["linreg"],
    **{("optim", name): [] for name in ("gd1d", "gd2d", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "sgd",
                                         "newton", "convexity", "compare")},
}
values = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "-1", "0.5", "1e308", "1e-320", "nan", "-inf", "", "x", "1e3", "2x2", "1x1x1x1",
                     "4096x4096", " 7", "1_0", "0x10", "999999999999999999999"]),
)


class Reached(BaseException):
    """Raised by the stubs: the command accepted its options and reached its real work."""


def _reached(*args, **kwargs):
    raise Reached


def numeric_options(command: tuple[str, ...]) -> list[str]:
    """The options of ``command`` whose argparse type parses numbers (a range of the option table, int, float,
    or a shape)."""
    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return [action.option_strings[-1] for action in parser._actions
            if action.option_strings and action.type is not None and action.type not in (str,)]


CASES = [(command, option) for command in BASES for option in numeric_options(command)]


@pytest.fixture
def stubbed(monkeypatch):
    """Every command's real work replaced by ``_reached``; torch's thread count restored afterwards."""
    import divekit.diagnose.inspect_run as inspect_run
    import divekit.optlab.experiments as experiments
    import divekit.scratch.lessons as lessons
    import divekit.training.kfold as kfold
    import divekit.training.run as run

    threads = torch.get_num_threads()
    monkeypatch.setattr(run, "fit", _reached)
    monkeypatch.setattr(kfold, "fit", _reached)
    monkeypatch.setattr(lessons, "get", lambda name: _reached)
    monkeypatch.setattr(inspect_run, "inspect_model", _reached)
    monkeypatch.setattr("divekit.models.summarize.summary", _reached)
    for name in ("gd1d", "trace_2d", "sgd", "newton_experiment", "convexity", "compare"):
        monkeypatch.setattr(experiments, name, _reached)
    yield
    torch.set_num_threads(threads)


def outcome(argv: list[str], capsys) -> tuple[str, str]:
    """``("reached" | "refused" | "unexpected", stderr)``."""
    try:
        code = main(argv)
    except Reached:
        return "reached", ""
    except SystemExit as e:  # argparse refuses a value before the command runs
        code = e.code
    err = capsys.readouterr().err
    if code == 2:
        return "refused", err
    return "unexpected", f"exit {code}: {err}"


def _log(command: tuple[str, ...], option: str, value: str, result: str) -> None:
    path = os.environ.get("DIVEKIT_FUZZ_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"command": " ".join(command), "option": option, "value": value,
                                "outcome": result}) + "\n")


@pytest.mark.parametrize("command, option", CASES, ids=[f"{' '.join(c)} {o}" for c, o in CASES])
def test_any_value_runs_or_is_one_error_line(command, option, tmp_path, capsys, stubbed):
    @FUZZ
    @given(value=values)
    def check(value: str) -> None:
        runs = tmp_path / "runs"
        before = set(runs.iterdir()) if runs.exists() else set()
        extra = ["--runs-dir", str(runs)] if command[0] != "summary" else []
        result, err = outcome([*command, *BASES[command], *extra, f"{option}={value}"], capsys)
        _log(command, option, value, result)
        assert result != "unexpected", f"{' '.join(command)} {option}={value!r}: {err}"
        if result == "refused":
            lines = [line for line in err.strip().splitlines() if "error:" in line]
            assert len(lines) == 1 and "unexpected" not in lines[0], err
            after = set(runs.iterdir()) if runs.exists() else set()
            assert after == before, f"{option}={value!r} was refused but left {sorted(after - before)}"

    check()


def test_every_command_with_numbers_is_covered():
    covered = {command for command, _ in CASES}
    assert {("train",), ("kfold",), ("summary",), ("inspect",), ("scratch",), ("optim", "sgd")} <= covered
    assert len(CASES) >= 45, len(CASES)  # each numeric option of each command, counted
    assert Path(__file__).name.startswith("test_")
