"""Property-based fuzzing of the run-configuration readers: ``divekit.runs.read_json``,
``TrainConfig.from_dict`` and ``rundir.read_config`` (what ``--resume``, ``eval`` and ``predict`` read).

Contract: whatever the file holds, the reader returns a valid value or raises ``ConfigError`` /
``CheckpointError`` whose message is one line naming the file. Anything else (TypeError, RecursionError,
OverflowError …) is a bug. ``DIVEKIT_FUZZ_EXAMPLES`` raises the number of examples for a longer campaign.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.errors import CheckpointError, ConfigError
from divekit.runs import read_json
from divekit.training.config import TrainConfig
from divekit.training.rundir import read_config

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = list(TrainConfig().to_dict())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def refused_cleanly(error: Exception, source: str) -> None:
    message = str(error)
    assert source in message and "\n" not in message, message


@FUZZ
@given(data=st.binary(max_size=300))
def test_read_json_on_random_bytes(tmp_path, data):
    path = tmp_path / "config.json"
    path.write_bytes(data)
    try:
        read_json(path)
    except ConfigError as e:
        refused_cleanly(e, str(path))


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, "\ufeff{}", "{} trailing", "NaN", ""])
def test_read_json_on_pathological_text(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    try:
        read_json(path)
    except ConfigError as e:
        refused_cleanly(e, str(path))


def test_read_json_on_a_folder(tmp_path):
    with pytest.raises(ConfigError) as e:
        read_json(tmp_path)
    refused_cleanly(e.value, str(tmp_path))


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=3))
def test_from_dict_with_hostile_values(changes):
    """A saved config with one to three values replaced by anything JSON can hold: a valid, validated
    config or one ConfigError line."""
    values = {**TrainConfig().to_dict(), **changes}
    try:
        cfg = TrainConfig.from_dict(values, "x/config.json")
    except ConfigError as e:
        refused_cleanly(e, "x/config.json")
    else:
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # what was accepted survives a round trip


@FUZZ
@given(raw=json_values)
def test_read_config_with_any_json_document(tmp_path, raw):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "config.json").write_text(json.dumps({"config": raw} if isinstance(raw, dict) else raw))
    try:
        read_config(run)
    except (ConfigError, CheckpointError) as e:
        refused_cleanly(e, str(run / "config.json"))


@pytest.mark.parametrize("key, value, needle", [
    ("epochs", 2.5, "epochs should be int"),
    ("clip_grad", "big", "clip_grad should be float"),
    ("betas", [0.9], "betas should be a list of two numbers"),
    ("data_options", [1, 2], "data_options should be an object"),
    ("seed", 2**80, "--seed"),
    ("resize", 10**6, "--resize"),
    ("data_dir", 5, "data_dir should be str"),
])
def test_wrong_types_and_absurd_sizes_are_named(key, value, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainConfig.from_dict({key: value}, "run/config.json")


def test_path_like_values_are_data_not_commands(tmp_path):
    """A config is inert: a traversal path is just a (missing) dataset, reported as such by the loader."""
    cfg = TrainConfig.from_dict({"data": "../../../../etc", "data_dir": "/nonexistent/../x"}, "c.json")
    assert cfg.data == "../../../../etc" and Path(cfg.data_dir).name == "x"
