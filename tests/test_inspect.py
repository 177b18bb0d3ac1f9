"""``divekit inspect``: init statistics against theory, gradient-flow verdicts on the three classic cases."""

import json
import math
import subprocess
import sys

import pytest
import torch

from divekit.cli import main
from divekit.diagnose.gradient_flow import INSPECT_MODELS, Flow, build, expected_std, verdict, weight_stats
from divekit.diagnose.inspect_run import inspect_model
from divekit.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_modules_do_not_import_torch():
    code = ("import sys, divekit.diagnose, divekit.cli.doctor, divekit.cli.inspection; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sigmoid_and_relu_models_get_opposite_verdicts_and_the_plots(tmp_path, capsys):
    verdicts = {}
    for model in ("mlp-sigmoid-deep", "mlp-relu-xavier"):
        assert main(["inspect", "--model", model, "--steps", "5", "--runs-dir", str(tmp_path),
                     "--name", model]) == 0
        out = capsys.readouterr().out
        verdicts[model] = next(line for line in out.splitlines() if line.startswith("verdict: ")).split()[1]
        for png in ("weights.png", "activations.png", "gradients.png"):
            assert (tmp_path / model / png).read_bytes()[:8] == PNG
        saved = json.loads((tmp_path / model / "inspect.json").read_text())
        assert saved["verdict"] == verdicts[model] and len(saved["grad_norms"]) == 5
    assert verdicts == {"mlp-sigmoid-deep": "vanishing", "mlp-relu-xavier": "healthy"}


def test_sigmoid_gradient_shrinks_layer_by_layer(tmp_path):
    r = inspect_model("mlp-sigmoid-deep", steps=3, runs_dir=tmp_path, plot=False)
    g = r["layer_grad_norms"]
    assert g[0] / g[-1] < 1e-3
    # σ' ≤ 1/4: from the output side back, every hidden layer's gradient is smaller than the one after it
    assert all(a < b for a, b in zip(g[2:], g[3:], strict=False))


def test_too_large_init_explodes(tmp_path):
    r = inspect_model("mlp-big-init", steps=5, runs_dir=tmp_path, plot=False)
    assert r["verdict"] == "exploding"
    assert r["out_std"][0][-1] / r["out_std"][0][0] > 1e3  # the forward signal grows ×8 a layer


def test_tiny_init_vanishes_and_kaiming_is_healthy(tmp_path):
    tiny = inspect_model("mlp-relu-xavier", init="normal", std=0.01, steps=3, runs_dir=tmp_path, plot=False)
    assert tiny["verdict"] == "vanishing" and tiny["std"] == 0.01
    assert inspect_model("mlp-big-init", init="kaiming", steps=3, runs_dir=tmp_path, plot=False)["verdict"] == \
        "healthy"


@pytest.mark.parametrize("scheme", ["normal", "xavier", "kaiming"])
def test_weight_std_matches_the_scheme(scheme):
    model, init, std = build("mlp-relu-xavier", (1, 28, 28), 10, scheme, 0.05)
    for row in weight_stats(model, init, std):
        n = math.prod(row["shape"])
        # sample std of n draws: relative error ~ 1/sqrt(2n); allow 5 of those, and at least 1 %
        assert row["std"] == pytest.approx(row["expected_std"], rel=max(5 / math.sqrt(2 * n), 0.01))
        assert abs(row["mean"]) < 5 * row["expected_std"] / math.sqrt(n)


def test_expected_std_formulas():
    w = torch.empty(128, 784)
    assert expected_std(w, "xavier", 0) == pytest.approx(math.sqrt(2 / (784 + 128)), rel=1e-12)
    assert expected_std(w, "kaiming", 0) == pytest.approx(math.sqrt(2 / 784), rel=1e-12)
    assert expected_std(w, "normal", 0.3) == 0.3
    assert expected_std(w, "default", 0.3) is None


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        return torch.cat([p.flatten() for p in build("mlp-sigmoid-deep", (1, 28, 28), 10, seed=seed)[0].parameters()])

    assert torch.equal(weights(3), weights(3))
    assert not torch.equal(weights(3), weights(4))


def test_registered_models_work_and_unknown_names_list_both_registries(tmp_path):
    r = inspect_model("softmax", steps=2, runs_dir=tmp_path, plot=False)
    assert r["init"] == "default" and len(r["layers"]) == 1
    with pytest.raises(ConfigError, match="unknown model 'nope'.*mlp-sigmoid-deep"):
        build("nope", (1, 28, 28), 10)
    with pytest.raises(ConfigError, match="--init must be one of"):
        build("mlp-relu-xavier", (1, 28, 28), 10, init="orthogonal")


def test_verdict_rules_on_made_up_flows():
    def flow(first, last, growth=1.0):
        return Flow(["a", "b"], losses=[1.0], grad_norms=[[first, last]], out_std=[[1.0, growth]])

    assert verdict(flow(1e-4, 1.0))[0] == "vanishing"
    assert verdict(flow(1e4, 1.0))[0] == "exploding"
    assert verdict(flow(0.5, 1.0))[0] == "healthy"
    assert verdict(flow(0.5, 1.0, growth=1e-4))[0] == "vanishing"
    assert verdict(flow(0.5, 1.0, growth=1e4))[0] == "exploding"
    diverged = flow(0.5, 1.0)
    diverged.diverged_at, diverged.losses = 3, [1.0, math.nan]
    assert verdict(diverged)[0] == "exploding" and "at step 3" in verdict(diverged)[1]


def test_without_a_model_the_inspect_models_are_listed(capsys):
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in INSPECT_MODELS)
