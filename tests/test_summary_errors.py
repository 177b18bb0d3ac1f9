"""``divekit summary``: bad --input, --classes and user model specs give one clear error, exit status 2."""

from __future__ import annotations

import re

import pytest

from divekit.cli import main
from divekit.errors import ConfigError
from divekit.models import build_model
from divekit.models.registry import list_models


@pytest.mark.parametrize("shape", ["28x28", "28", "1x1x1x28x28"])
def test_image_models_need_three_or_four_input_axes(shape, capsys):
    assert main(["summary", "lenet", "--input", shape]) == 2
    err = capsys.readouterr().err
    assert f"--input {shape}: image model 'lenet' needs CxHxW or BxCxHxW" in err
    assert "Traceback" not in err


def test_channels_height_width_is_one_image(capsys):
    assert main(["summary", "lenet", "--input", "1x28x28"]) == 0
    assert "Input: [1, 1, 28, 28]   Output: [1, 10]" in capsys.readouterr().out


def test_other_model_kinds_keep_their_own_layout(capsys):
    assert main(["summary", "linear", "--input", "4x13", "--classes", "1"]) == 0
    assert "Input: [4, 13]   Output: [4, 1]" in capsys.readouterr().out


@pytest.mark.parametrize("classes", ["-3", "0", "two"])
def test_classes_must_be_at_least_one(classes, capsys):
    with pytest.raises(SystemExit) as info:
        main(["summary", "lenet", "--classes", classes])
    assert info.value.code == 2
    assert "argument --classes: expected an integer from 1 to 100000" in capsys.readouterr().err


def test_a_user_file_with_a_syntax_error_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("from torch import nn\n\ndef Net(:\n    pass\n")
    assert main(["summary", f"{bad}:Net"]) == 2
    assert f"error: {bad}: cannot import: SyntaxError: invalid syntax (line 3)" in capsys.readouterr().err


def test_a_user_file_failing_on_import_names_the_error(tmp_path, capsys):
    bad = tmp_path / "fails.py"
    bad.write_text("import torch\nraise ValueError('no GPU here')\n")
    assert main(["summary", f"{bad}:Net"]) == 2
    assert f"{bad}: cannot import: ValueError: no GPU here" in capsys.readouterr().err


@pytest.mark.parametrize(("spec", "expected"), [
    ("os:path", "os:path: expected an nn.Module or a model class/factory, but 'path' is a module attribute of os"),
    ("os:getcwd", "calling 'getcwd' gave a str, not an nn.Module"),
    ("torch.nn:Linear", "calling Linear() to build the model failed: TypeError:"),
])
def test_attributes_that_are_not_models_say_what_they_are(spec, expected, capsys):
    assert main(["summary", spec]) == 2
    assert expected in capsys.readouterr().err


def test_alexnet_minimum_size_in_its_description_is_the_real_one():
    (entry,) = [m for m in list_models() if m.name == "alexnet"]
    side = int(re.search(r"≥ (\d+) px", entry.description).group(1))
    build_model("alexnet", (1, side, side), 10, width=0.0625)
    with pytest.raises(ConfigError, match=f"at least {side}×{side} px"):
        build_model("alexnet", (1, side - 1, side - 1), 10, width=0.0625)


def test_too_small_input_names_the_fix_for_the_cli_and_for_python(capsys):
    assert main(["summary", "alexnet", "--input", "1x3x64x64", "--width", "0.0625"]) == 2
    err = capsys.readouterr().err
    assert "--resize 96 (divekit train)" in err and "--input 1x3x96x96 (divekit summary)" in err
    assert "TensorLoader(resize=(96, 96))" in err
