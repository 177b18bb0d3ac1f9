"""``divekit inspect``: bad numeric options and model names give one clear error, exit status 2."""

from __future__ import annotations

import pytest

from divekit.cli import main
from divekit.diagnose.gradient_flow import build
from divekit.errors import ConfigError


@pytest.mark.parametrize(("option", "value"), [
    ("--std", "-1"), ("--std", "0"), ("--std", "nan"), ("--std", "inf"),
    ("--lr", "0"), ("--lr", "nan"), ("--steps", "0"), ("--batch-size", "-5"),
    ("--seed", "-1"), ("--seed", "99999999999999999999999"),
])
def test_numeric_options_are_checked_before_anything_runs(option, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--model", "mlp-relu-xavier", "--init", "normal", "--runs-dir", str(tmp_path),
              option, value])
    assert info.value.code == 2
    assert f"argument {option}: expected " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("std", [-1.0, 0.0, float("nan")])
def test_build_refuses_a_bad_std(std):
    with pytest.raises(ConfigError, match="--std must be a positive finite number"):
        build("mlp-relu-xavier", (1, 28, 28), 10, init="normal", std=std)


def test_only_an_unknown_name_lists_the_inspect_models(capsys):
    assert main(["inspect", "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "mlp-sigmoid-deep" in err and "alexnet" in err
    with pytest.raises(ConfigError) as info:
        build("alexnet", (1, 28, 28), 10)
    assert "needs inputs of at least 65×65 px" in str(info.value) and "inspect models" not in str(info.value)
