"""build_model's argument checks: input sizes, argument types and ranges, options a model does not take."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from divekit.cli import main
from divekit.errors import ConfigError
from divekit.models.checks import builder_options
from divekit.models.registry import MODELS, build_model, list_models

IMAGE_MODELS = [m.name for m in list_models() if m.kind == "image"]
TOO_SMALL = re.compile(r"^model (\S+) needs inputs of at least (\d+)×\2 px, got (\d+)×(\d+); resize the images: "
                       r"--resize (\d+) \(divekit train\), --input 1x1x\5x\5 \(divekit summary\), or "
                       r"TensorLoader\(resize=\(\5, \5\)\) in Python$")


def narrow(name: str) -> dict:
    """A small width where the model takes one, so the real builds stay quick."""
    return {"width": 0.25} if "width" in builder_options(MODELS[name].build)[0] else {}


def smallest_side(name: str) -> int:
    """The smallest side the message names for a 1×1 input (1 when a 1×1 image already fits)."""
    try:
        build_model(name, (1, 1, 1), 10, **narrow(name))
    except ConfigError as e:
        match = TOO_SMALL.match(str(e))
        assert match, str(e)
        assert match.group(1) == name and match.group(3, 4) == ("1", "1")
        return int(match.group(2))
    return 1


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_image_model_names_its_smallest_input_and_runs_at_it(name):
    side = smallest_side(name)
    if side > 1:
        with pytest.raises(ConfigError) as info:
            build_model(name, (1, side - 1, side - 1), 10, **narrow(name))
        assert TOO_SMALL.match(str(info.value)).group(2) == str(side)
    torch.manual_seed(0)
    model = build_model(name, (1, side, side), 10, **narrow(name))
    out = model.train()(torch.rand(2, 1, side, side))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    after = build_model(name, (1, side + 1, side + 1), 10, **narrow(name))  # and the side after it
    assert after.eval()(torch.rand(1, 1, side + 1, side + 1)).shape == (1, 10)


@pytest.mark.parametrize("side", [1, 4])
def test_lenet_too_small_says_how_to_resize(side):
    with pytest.raises(ConfigError, match=f"^model lenet needs inputs of at least 12×12 px, got {side}×{side}; resize "
                                          r"the images: --resize 12 \(divekit train\), --input 1x1x12x12"):
        build_model("lenet", (1, side, side), 10)


def test_a_suggested_training_size_is_offered_above_the_minimum():
    with pytest.raises(ConfigError, match=r"at least 65×65 px, got 28×28; resize the images: --resize 96 "):
        build_model("alexnet", (1, 28, 28), 10, width=0.0625)


def test_sides_that_fit_and_sides_that_do_not_alternate_below_the_minimum():
    """fast93 halves even sides first (space-to-depth): 5 px fits, 6 does not, 7 and on all do."""
    build_model("fast93", (1, 5, 5), 10)
    with pytest.raises(ConfigError, match="at least 7×7 px, got 6×6"):
        build_model("fast93", (1, 6, 6), 10)


def test_the_size_check_draws_no_random_numbers():
    torch.manual_seed(0)
    direct = MODELS["lenet-bn"].build((1, 28, 28), 10)
    torch.manual_seed(0)
    checked = build_model("lenet-bn", (1, 28, 28), 10)
    for a, b in zip(direct.parameters(), checked.parameters(), strict=True):
        assert torch.equal(a, b)


def test_summary_of_a_too_small_input_is_one_error_line(capsys):
    assert main(["summary", "lenet", "--input", "1x1x1x1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model lenet needs inputs of at least 12×12 px, got 1×1;") and err.count("\n") == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_classes": 0}, "num_classes: expected an integer from 1 to 100000, got 0"),
    ({"num_classes": 2.7}, "num_classes: expected an integer from 1 to 100000, got 2.7"),
    ({"num_classes": True}, "num_classes: expected an integer from 1 to 100000, got True"),
    ({"in_shape": (1, 0, 28)}, r"in_shape\[1\]: expected an integer from 1 to 4096, got 0"),
    ({"in_shape": (-1, 28, 28)}, r"in_shape\[0\]: expected an integer from 1 to 4096, got -1"),
    ({"in_shape": (1, 28.5, 28)}, r"in_shape\[1\]: expected an integer from 1 to 4096, got 28.5"),
    ({"in_shape": 28}, "in_shape: expected a tuple of sizes"),
    ({"in_shape": (0,)}, r"in_shape\[0\]: expected an integer >= 1, got 0"),
])
def test_arguments_out_of_range_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_model("lenet", **kwargs)


def test_integers_of_any_kind_are_taken():
    model = build_model("softmax", (np.int64(1), 28, 28), np.int64(3))
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 3)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("mlp", {"hidden": 100_000_000}, "--hidden: expected an integer from 1 to 65536, got 100000000"),
    ("tabular-mlp", {"hidden": [16, 100_000_000]}, "--hidden: expected an integer from 1 to 65536, got 100000000"),
    ("mlp", {"hidden": 0}, "--hidden: expected an integer from 1 to 65536, got 0"),
    ("fastcnn", {"width": 1e308}, r"--width: expected a number in \(0, 16\], got 1e\+308"),
    ("resnet18", {"width": float("nan")}, r"--width: expected a number in \(0, 16\], got nan"),
    ("alexnet", {"dropout": 1.0}, r"--dropout: expected a number in \[0, 1\), got 1.0"),
])
def test_model_options_are_checked_against_the_option_table(name, options, message):
    with pytest.raises(ConfigError, match=message):
        build_model(name, (1, 96, 96), 10, **options)


def test_fastcnn_still_takes_no_hidden_layer():
    assert build_model("fastcnn", (1, 28, 28), 10, hidden=0)(torch.rand(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("softmax", {"width": 2}, "model softmax takes no --width option (it has no width setting; its options: none)"),
    ("mlp", {"width": 2}, "model mlp takes no --width option (it has no width setting; its options: hidden, dropout)"),
    ("lenet", {"dropout": 0.5}, "model lenet takes no --dropout option (it has no dropout setting; its options: none)"),
    ("resnet18", {"depth": 16}, "model resnet18 takes no -o depth option (it has no depth setting; its options: width, "
                                "variant, stem)"),
])
def test_an_option_the_model_does_not_take_is_named_as_given(name, options, message):
    with pytest.raises(ConfigError) as info:
        build_model(name, (1, 28, 28), 10, **options)
    assert str(info.value) == message


def test_summary_names_the_flag_a_model_does_not_take(capsys):
    assert main(["summary", "softmax", "--width", "2"]) == 2
    assert capsys.readouterr().err == ("error: model softmax takes no --width option (it has no width setting; its "
                                       "options: none)\n")


@pytest.mark.parametrize("name, side, builder, options", [("lenet", 28, "simple.lenet", ""),
                                                          ("alexnet", 96, "zoo.alexnet", ", width=0.25"),
                                                          ("vgg11", 64, "zoo.vgg11", ", width=0.25")])
def test_a_model_that_fits_is_built_without_meta_device_forwards(name, side, builder, options):
    """The size check of an input that fits is one real batch-1 forward, and AlexNet's and VGG's dense heads are
    sized from their layers' settings: no meta-device forward, whose first use in a process imports torch's
    symbolic-shape machinery (sympy, about 0.9 s); the weights are the seed's, as without a check."""
    import subprocess
    import sys

    module, fn = builder.split(".")
    code = (f"import sys, torch; from divekit.models.registry import build_model; torch.manual_seed(0); "
            f"m = build_model({name!r}, (1, {side}, {side}){options}); torch.manual_seed(0); "
            f"from divekit.models.{module} import {fn}; r = {fn}((1, {side}, {side}), 10{options}); "
            "assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), r.state_dict().values())) "
            "and m.training; print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
