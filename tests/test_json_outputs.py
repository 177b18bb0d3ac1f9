"""Every JSON file divekit writes is strict JSON: no bare NaN or Infinity, which strict parsers refuse."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from divekit.cli import main
from divekit.runs import json_text, write_json


def strict_loads(text: str):
    """``json.loads`` that refuses the NaN, Infinity and -Infinity tokens, as JavaScript's JSON.parse does."""
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_strict_loads_refuses_what_python_writes_by_default():
    with pytest.raises(ValueError, match="not JSON: NaN"):
        strict_loads(json.dumps({"loss": math.nan}))


def test_a_summary_with_nan_and_inf_round_trips_through_a_strict_parser(tmp_path):
    summary = {"final": {"epoch": 3, "train_loss": math.inf, "valid_loss": math.nan, "valid_log_rmse": -math.inf,
                         "valid_acc": 0.5},
               "curve": (1.0, math.nan, np.float64(np.inf)), "numpy": {"acc": np.float32(0.25), "n": np.int64(7)},
               "tensor": torch.tensor([1.0, math.nan]), math.nan: "a key"}
    text = write_json(tmp_path / "summary.json", summary).read_text(encoding="utf-8")
    back = strict_loads(text)
    assert back["final"] == {"epoch": 3, "train_loss": None, "valid_loss": None, "valid_log_rmse": None,
                             "valid_acc": 0.5}
    assert back["curve"] == [1.0, None, None]
    assert back["numpy"] == {"acc": 0.25, "n": 7} and back["tensor"] == [1.0, None] and back["nan"] == "a key"


def test_json_text_never_writes_a_bare_constant():
    text = json_text([math.nan, [math.inf, {"x": -math.inf}]], indent=None)
    assert text == "[null, [null, {\"x\": null}]]"


def test_the_optimization_lab_writes_a_diverged_trace_as_nulls(tmp_path, capsys):
    assert main(["optim", "gd1d", "--lr", "1e300", "--steps", "4", "--runs-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*/results.json")
    trace = strict_loads(path.read_text(encoding="utf-8"))["results"]["1e+300"]["trace"]
    assert trace[0] == 10.0 and trace[1] == -2e301 and trace[2:] == [None, None, None]
