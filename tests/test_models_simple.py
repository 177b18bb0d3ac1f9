"""Every small model builds by name and maps a batch to one logit per class."""

import pytest
import torch

from divekit.errors import ConfigError
from divekit.models.registry import build_model


@pytest.mark.parametrize("name", ["softmax", "mlp", "lenet", "lenet-bn", "fastcnn"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_output_shape(name, shape):
    model = build_model(name, shape, 7)
    assert model(torch.randn(4, *shape)).shape == (4, 7)


def test_lenet_matches_the_book():
    model = build_model("lenet", (1, 28, 28), 10)
    assert sum(p.numel() for p in model.parameters()) == 61706  # d2l LeNet-5 on 28×28
    assert any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in model.modules())


def test_building_does_not_touch_batchnorm_statistics():
    model = build_model("fastcnn", (1, 28, 28), 10)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.num_batches_tracked.item() == 0 and torch.all(bn.running_var == 1)


def test_unknown_model_and_bad_option():
    with pytest.raises(ConfigError, match="unknown model 'resnet9000'"):
        build_model("resnet9000")
    with pytest.raises(ConfigError, match="fastcnn"):
        build_model("fastcnn", (1, 28, 28), 10, depth=3)


def test_whitening_conv_decorrelates_the_patches_of_its_first_batch():
    from divekit.models.simple import WhiteningConv2d

    torch.manual_seed(0)
    layer = WhiteningConv2d(2, 8, kernel=3).double()
    mix = torch.randn(18, 18, dtype=torch.float64)  # correlated patches: a random linear mix of noise
    x = (torch.randn(64, 10 * 10, 18, dtype=torch.float64) @ mix).reshape(64, 10, 10, 18)[..., :2].permute(0, 3, 1, 2)
    layer.eval()(x)
    assert not layer.fitted  # evaluation never fits
    layer.train()(x)
    assert layer.fitted and not layer.weight.requires_grad
    # the first half of the filters are orthogonal directions scaled by 1/sqrt(λ + eps): on the same patches
    # their responses are uncorrelated, with variance λ / (λ + eps)
    patches = torch.nn.functional.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 18)
    w = layer.weight[:4].reshape(4, 18)
    out = (patches - patches.mean(0)) @ w.T
    cov = out.T @ out / (len(out) - 1)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    assert off_diagonal.abs().max() < 1e-10
    lam = torch.linalg.eigvalsh(torch.cov(patches.T)).flip(0)[:4]
    assert torch.allclose(torch.diag(cov), lam / (lam + layer.eps), rtol=1e-8)
    assert torch.equal(layer.weight[4:], -layer.weight[:4])


def test_fastcnn_whitening_is_saved_and_not_refitted():
    model = build_model("fastcnn", (1, 28, 28), 10)
    model.train()(torch.rand(32, 1, 28, 28))
    fresh = build_model("fastcnn", (1, 28, 28), 10)
    fresh.load_state_dict(model.state_dict())
    before = fresh[1].weight.clone()
    fresh.train()(torch.rand(32, 1, 28, 28) * 5)  # another batch: a loaded, fitted layer keeps its filters
    assert torch.equal(fresh[1].weight, before) and torch.equal(before, model[1].weight)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "1.weight" not in trainable and "5.weight" in trainable


def test_whitening_reads_its_fitted_buffer_only_until_fitted_and_again_after_a_load():
    """On a GPU reading the ``fitted`` buffer waits for the device: after the first batch the layer must not
    read it; a loaded state dict may hold an unfitted layer, so loading makes it look again."""
    from divekit.models.simple import WhiteningConv2d

    layer, reads = WhiteningConv2d(1, 4, kernel=3), []
    unfitted = {k: v.clone() for k, v in layer.state_dict().items()}

    class Spy(torch.Tensor):
        def __bool__(self):
            reads.append(1)
            return super().__bool__()

    layer.fitted = layer.fitted.as_subclass(Spy)
    layer.train()
    for _ in range(3):
        layer(torch.rand(8, 1, 6, 6))
    assert len(reads) == 1 and bool(layer.fitted)
    fitted_weight = layer.weight.clone()
    layer.load_state_dict(unfitted)
    layer(torch.rand(8, 1, 6, 6) * 3)  # fits again on this batch
    assert bool(layer.fitted) and not torch.equal(layer.weight, fitted_weight)


def test_fastcnn_head_hidden_layer_or_none():
    """The default head is a hidden linear layer with batch norm; ``hidden=0`` maps features to classes."""
    model = build_model("fastcnn", (1, 28, 28), 10)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(48 * 4 * 4, 96), (96, 10)]
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    plain = build_model("fastcnn", (1, 28, 28), 10, hidden=0)
    assert [(m.in_features, m.out_features) for m in plain.modules() if isinstance(m, torch.nn.Linear)] == [(768, 10)]
    assert plain(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    half = build_model("fastcnn", (1, 28, 28), 10, width=0.5)  # width scales the hidden units like the channels
    assert [(m.in_features, m.out_features) for m in half.modules() if isinstance(m, torch.nn.Linear)] == [
        (24 * 4 * 4, 48), (48, 10)]
