"""``summary``: per-layer shapes, parameters and MACs checked by hand, clear shape errors, and the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from divekit.cli import main
from divekit.errors import ConfigError
from divekit.models import build_model, summary


def test_conv_macs_by_hand():
    """Conv2d(3→8, 3×3, stride 2, pad 1) on [2, 3, 16, 16] gives [2, 8, 8, 8]; each of the
    2·8·8·8 = 1,024 outputs takes 3·3·3 = 27 multiply-accumulates: 27,648 MACs, 8·27 + 8 = 224 params."""
    s = summary(nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1), (2, 3, 16, 16))
    (row,) = s.layers
    assert row.output_shape == "[2, 8, 8, 8]"
    assert row.macs == 27_648 and s.total_macs == 27_648
    assert row.params == s.total_params == 224


def test_grouped_conv_linear_and_transposed_conv_macs_by_hand():
    net = nn.Sequential(
        nn.Conv2d(4, 8, kernel_size=3, groups=2),  # [1,8,3,3]: 72 outputs · (4/2)·9 = 1,296
        nn.ConvTranspose2d(8, 2, kernel_size=2, stride=2),  # 72 inputs · 2 outputs · 4 taps = 576, out [1,2,6,6]
        nn.Flatten(),
        nn.Linear(72, 5),  # 5 outputs · 72 inputs = 360
    )
    s = summary(net, (1, 4, 5, 5))
    assert [r.macs for r in s.layers] == [1_296, 576, 0, 360]
    assert [r.output_shape for r in s.layers] == ["[1, 8, 3, 3]", "[1, 2, 6, 6]", "[1, 72]", "[1, 5]"]
    assert s.total_macs == 1_296 + 576 + 360
    assert s.total_params == sum(p.numel() for p in net.parameters())


def test_recurrent_macs_by_hand():
    """LSTM(10→20, 2 layers) on 5 steps × 3 sequences: per step 4·20·(10+20) + 4·20·(20+20) = 5,600."""
    s = summary(nn.LSTM(10, 20, num_layers=2), (5, 3, 10))
    assert s.total_macs == 15 * 5_600
    assert s.layers[0].output_shape == "([5, 3, 20], ([2, 3, 20], [2, 3, 20]))"
    gru = summary(nn.GRU(4, 6, batch_first=True, bidirectional=True), (2, 7, 4))
    assert gru.total_macs == 14 * 2 * 3 * 6 * (4 + 6)


def test_attention_macs_by_hand():
    """Self-attention, E = 8, 5 positions × 3 sequences (15 queries, 5 keys each): q, k, v and output
    projections 4·15·8·8 = 3,840, QKᵀ and A·V 2·15·5·8 = 1,200."""
    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(8, num_heads=2)

        def forward(self, x):
            return self.attn(x, x, x)[0]

    s = summary(SelfAttention(), (5, 3, 8))
    assert [r.name for r in s.layers] == ["attn"]
    assert s.total_macs == 3_840 + 1_200 and s.layers[0].params == 4 * (8 * 8 + 8)


def test_reference_macs_of_torchvision_resnet18():
    """torchvision publishes 1.81 GFLOPS (multiply-accumulates of convs and linear layers) for ResNet-18."""
    with torch.device("meta"):
        model = build_model("resnet18", (3, 224, 224), 1000, variant="torchvision")
    s = summary(model, (1, 3, 224, 224))
    assert s.total_macs == pytest.approx(1.814e9, rel=1e-3)
    assert s.total_params == 11_689_512


def test_book_alexnet_layer_rows():
    with torch.device("meta"):
        model = build_model("alexnet", (1, 224, 224), 10)
    s = summary(model, (1, 1, 224, 224))
    first = s.layers[0]
    assert (first.name, first.kind, first.output_shape) == ("0", "Conv2d", "[1, 96, 54, 54]")
    assert first.macs == 96 * 54 * 54 * 11 * 11 and first.params == 96 * 121 + 96
    assert s.output_shape == "[1, 10]" and sum(r.params for r in s.layers) == s.total_params


class UserNet(nn.Module):
    """A user-defined model with a shared layer, a parameter of its own and an unused layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 3)
        self.scale = nn.Parameter(torch.ones(1))
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1)) * self.scale + self.fc(self.conv(x).flatten(1))


def test_user_module_shared_layers_counted_once():
    model = UserNet()
    s = summary(model, (2, 1, 8, 8))
    names = [r.name for r in s.layers]
    assert names == ["conv", "fc", "conv (call 2)", "fc (call 2)", "UserNet", "unused"]
    assert [r.params for r in s.layers] == [40, 435, 0, 0, 1, 6]
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 482
    assert s.total_macs == 2 * (2 * 4 * 6 * 6 * 9 + 2 * 3 * 144)
    assert s.layers[-1].output_shape == "(not called)"


def test_model_is_left_as_it_was():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[2].eval()
    running = model[1].running_mean.clone()
    summary(model, (1, 3))  # batch 1 works, as it runs in eval mode
    assert model.training and model[1].training and not model[2].training
    torch.testing.assert_close(model[1].running_mean, running)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_embedding_models_get_token_ids():
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(8 * 6, 2))
    s = summary(model, (3, 6))
    assert s.output_shape == "[3, 2]" and s.total_macs == 3 * 2 * 48


def test_wrong_linear_input_size_names_the_layer_and_the_fix():
    """The classic LeNet mistake: 16·5·5 inputs to the first Linear when the tensor has 6·14·14."""
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 10))
    with pytest.raises(ConfigError) as info:
        summary(net, (1, 1, 28, 28))
    message = str(info.value)
    assert "layer '4'" in message and "Linear(in_features=400" in message
    assert "[1, 1176]" in message and "in_features=1176" in message


def test_wrong_conv_channels_names_the_layer():
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(16, 8, 3))
    with pytest.raises(ConfigError, match=r"layer '2' .*expects 16 input channels but got 8; set in_channels=8"):
        summary(net, (1, 1, 10, 10))


def test_error_in_user_forward_names_module_and_last_layer():
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Conv2d(1, 4, 3)
            self.head = nn.Linear(7, 2)

        def forward(self, x):
            return self.head(self.features(x).view(x.shape[0], 7))

    with pytest.raises(ConfigError, match=r"forward of 'Bad' .*after layer 'features' gave \[2, 4, 6, 6\]"):
        summary(Bad(), (2, 1, 8, 8))


@pytest.mark.parametrize("shape", [(), (1, 0, 28), (1, -1), (1.5, 2)])
def test_bad_input_shape(shape):
    with pytest.raises(ConfigError, match="input_shape"):
        summary(nn.Linear(2, 2), shape)


def test_not_a_module():
    with pytest.raises(ConfigError, match="nn.Module"):
        summary(lambda x: x, (1, 2))


def test_table_text():
    text = summary(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2)).table()
    assert "1 (Linear)" in text and "Parameters: 10 (trainable 10)" in text and "MACs: 8 " in text


# ---- the command line ----

def test_cli_summary_zoo_model(capsys):
    assert main(["summary", "resnet18", "--input", "1x1x32x32", "--width", "0.125", "-o", "stem=small"]) == 0
    out = capsys.readouterr().out
    assert "Input: [1, 1, 32, 32]   Output: [1, 10]" in out and "MACs:" in out


def test_cli_summary_json_and_user_file(tmp_path, capsys):
    (tmp_path / "mynet.py").write_text("from torch import nn\n"
                                       "def Net():\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n")
    assert main(["summary", f"{tmp_path / 'mynet.py'}:Net", "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["total_params"] == 7850 and result["total_macs"] == 7840


def test_cli_summary_errors(capsys):
    assert main(["summary", "alexnet", "--input", "1x1x28x28"]) == 2
    assert "at least 65×65 px" in capsys.readouterr().err
    assert main(["summary", "resnet18", "-o", "nonsense"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["summary", "resnet18", "--input", "1xax28"])


def test_cli_module_does_not_import_torch():
    code = "import sys, divekit.cli.summary; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
