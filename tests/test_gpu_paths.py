"""The CUDA-only code paths, exercised on the CPU: fp16 autocast with GradScaler, and the precision choice."""

from unittest import mock

import torch

import divekit.training.fit as fit_module
from divekit.data.loader import TensorLoader
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_precision


def test_fp16_with_grad_scaler_learns():
    """On a GPU, fp16 autocast trains through GradScaler (scale, unscale, step, update); CPU autocast also
    takes fp16, so the same code runs here with ``run_precision`` answering fp16."""
    torch.manual_seed(0)
    x = (torch.rand(512, 1, 8, 8) * 255).to(torch.uint8)
    y = (x.float().mean((1, 2, 3)) > 127).long()
    loader = TensorLoader(x, y, 64, shuffle=True, seed=0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    scales = []

    class Spy(torch.amp.GradScaler):
        def step(self, optimizer, *args, **kwargs):
            scales.append(self.get_scale())
            return super().step(optimizer, *args, **kwargs)

    config = TrainConfig(epochs=3, lr=0.1, schedule="constant", warmup=0, label_smoothing=0, weight_decay=0,
                         test_every=0)
    with mock.patch.object(fit_module, "run_precision", lambda c, d: torch.float16), \
            mock.patch.object(torch.amp, "GradScaler", Spy):
        state = fit_module.fit(model, loader, config)
    losses = [row["train_loss"] for row in state.history]
    assert len(scales) == 3 * len(loader) and scales[0] == 2.0**16  # every step went through the scaler
    assert losses[-1] < losses[0] and all(map(torch.isfinite, map(torch.tensor, losses)))


def test_auto_precision_on_cuda_prefers_bf16_then_fp16():
    cuda = torch.device("cuda")
    with mock.patch.object(torch.cuda, "is_bf16_supported", lambda *a, **k: True):
        assert resolve_precision("auto", cuda) == torch.bfloat16
    with mock.patch.object(torch.cuda, "is_bf16_supported", lambda *a, **k: False):
        assert resolve_precision("auto", cuda) == torch.float16
    assert resolve_precision("fp16", cuda) == torch.float16 and resolve_precision("fp32", cuda) is None
