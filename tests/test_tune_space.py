"""Search spaces from --param and TOML: what each spec means, and one clear line for each spec no run could take."""

from __future__ import annotations

import pytest

from divekit.errors import ConfigError
from divekit.training.config import TrainConfig
from divekit.tuning.space import Param, combine, load_space, parse_param, settings_config


@pytest.mark.parametrize("text, expected", [
    ("lr=log:1e-3..1", Param("lr", "log", 1e-3, 1.0)),
    ("weight_decay=float:0..1e-3:1e-4", Param("weight_decay", "float", 0.0, 1e-3, 1e-4)),
    ("epochs=int:2..6", Param("epochs", "int", 2.0, 6.0)),
    ("width=0.5,0.75,1", Param("width", "choice", choices=(0.5, 0.75, 1))),
    ("opt=sgd,adam", Param("opt", "choice", choices=("sgd", "adam"))),
    ("label-smoothing=float:0..0.2", Param("label_smoothing", "float", 0.0, 0.2)),
    ("augment_flip=true,false", Param("augment_flip", "choice", choices=(True, False))),
])
def test_a_spec_says_what_is_drawn(text, expected):
    assert parse_param(text) == expected


@pytest.mark.parametrize("text, words", [
    ("lr", "expected NAME=SPEC"),
    ("colour=1,2", "'colour' cannot be searched"),
    ("data=mnist,kmnist", "'data' cannot be searched"),
    ("lr=log:1..1e-3", "low end must be below"),
    ("weight_decay=log:0..1", "must start above 0"),
    ("lr=float:0..1", "lr"),  # a rate of 0 is refused by the config itself
    ("epochs=float:1..3", "epochs should be int"),
    ("epochs=int:1.5..3", "whole numbers"),
    ("lr=log:1e-3", "expected log:LOW..HIGH"),
    ("lr=log:a..1", "'a' is not a number"),
    ("lr=1e-3..1:log", "a range starts with its kind: log:LOW..HIGH or float:LOW..HIGH or int:LOW..HIGH"),
    ("epochs=2..6", "e.g. epochs=int:2..6"),
    ("lr=1e-3..1:log", "e.g. lr=log:1e-3..1 or lr=float:1e-3..1"),
    ("width=0.5,0.5", "listed twice"),
    ("width=0,1", "width"),
    ("opt=sgd,lbfgs", "--opt must be one of"),
    ("dropout=0.1,1.5", "dropout"),
])
def test_a_spec_no_run_could_take_is_one_line_naming_it(text, words):
    with pytest.raises(ConfigError) as e:
        parse_param(text)
    assert words in str(e.value) and "\n" not in str(e.value)
    assert text.split("=")[0].replace("-", "_") in str(e.value) or "NAME=SPEC" in str(e.value)


def test_grid_values_of_each_kind():
    assert parse_param("epochs=int:2..6:2").grid() == [2, 4, 6]
    assert parse_param("width=0.5,1").grid() == [0.5, 1]
    assert parse_param("weight_decay=float:0..3e-4:1e-4").grid() == pytest.approx([0, 1e-4, 2e-4, 3e-4])
    with pytest.raises(ConfigError, match="continuous range"):
        parse_param("lr=log:1e-3..1").grid()


def test_a_toml_space_reads_strings_and_lists(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[params]\nlr = "log:1e-3..1"\nwidth = [0.5, 0.75, 1]\nopt = ["sgd", "adam"]\n')
    params = load_space(path)
    assert [p.describe() for p in params] == ["lr=log:0.001..1", "width=0.5,0.75,1", "opt=sgd,adam"]


@pytest.mark.parametrize("text, words", [
    ("lr = 'log:1e-3..1'\n", "expected a [params] table"),
    ("[params\n", "not valid TOML"),
    ("[params]\nlr = 3\n", "expected a string"),
])
def test_a_bad_toml_space_names_the_file(tmp_path, text, words):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_space(path)
    assert str(path) in str(e.value) and words in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_space(tmp_path / "missing.toml")


def test_a_name_given_twice_or_none_at_all_is_refused():
    with pytest.raises(ConfigError, match="given twice"):
        combine([parse_param("lr=log:1e-3..1"), parse_param("lr=0.1,0.2")])
    with pytest.raises(ConfigError, match="nothing to search"):
        combine([])


def test_model_options_join_the_base_model_options():
    base = TrainConfig(model="mlp", model_options={"hidden": [64]})
    cfg = settings_config(base, {"width": 0.5, "lr": 0.3, "dropout": 0.2})
    assert cfg.model_options == {"hidden": [64], "width": 0.5, "dropout": 0.2} and cfg.lr == 0.3


@pytest.mark.parametrize("pruner, name", [("median", "MedianPruner"), ("halving", "SuccessiveHalvingPruner"),
                                          ("hyperband", "HyperbandPruner"), ("none", "NopPruner")])
def test_each_pruner_is_optunas_own(pruner, name, tmp_path):
    from divekit.tuning.spec import StudySpec, make_pruner, most_steps

    spec = StudySpec("s", str(tmp_path / "s"), None, {"epochs": 3}, [parse_param("epochs=int:2..6").to_dict()],
                     "valid_acc", "maximize", pruner=pruner)
    assert type(make_pruner(spec)).__name__ == name
    assert most_steps(spec) == 6  # Hyperband's largest rung: the most epochs a trial may train
    assert most_steps(StudySpec(**{**spec.__dict__, "k": 5})) == 5
