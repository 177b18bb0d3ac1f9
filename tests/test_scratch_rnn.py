"""RNN/GRU/LSTM from scratch vs. nn.RNN/GRU/LSTM with the same weights, both layouts (float64, 1e-10)."""

import pytest
import torch
from torch import nn

from divekit.scratch import rnn

TOL = 1e-10
MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_scratch_cell_equals_torch_module(kind, batch_first):
    torch.manual_seed(0)
    T, B, I, H = 5, 3, 4, 6
    module = MODULES[kind](I, H, batch_first=batch_first).double()
    inputs = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    c0 = torch.randn(B, H, dtype=torch.float64)
    state = (h0, c0) if kind == "lstm" else h0
    torch_state = (h0[None], c0[None]) if kind == "lstm" else h0[None]

    X1 = inputs.clone().requires_grad_(True)
    out, final = rnn.run(kind, X1, state, rnn.params_from_torch(module), batch_first=batch_first)
    X2 = inputs.clone().requires_grad_(True)
    out2, final2 = module(X2, torch_state)
    torch.testing.assert_close(out, out2, rtol=0, atol=TOL)
    if kind == "lstm":
        torch.testing.assert_close(final[0], final2[0][0], rtol=0, atol=TOL)
        torch.testing.assert_close(final[1], final2[1][0], rtol=0, atol=TOL)  # the cell state too
    else:
        torch.testing.assert_close(final, final2[0], rtol=0, atol=TOL)

    # gradients: ours flow back into the module's parameters through params_from_torch
    w = torch.randn(out.shape, dtype=torch.float64)
    (out * w).sum().backward()
    ours = {name: p.grad.clone() for name, p in module.named_parameters()}
    module.zero_grad()
    (out2 * w).sum().backward()
    torch.testing.assert_close(X1.grad, X2.grad, rtol=0, atol=TOL)
    for name, p in module.named_parameters():
        torch.testing.assert_close(ours[name], p.grad, rtol=0, atol=TOL, msg=name)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_zero_initial_state_and_parameter_shapes(kind):
    torch.manual_seed(1)
    P = rnn.init_params(kind, 4, 6)
    assert all(
        v.shape == ((4, 6) if k.startswith("W_x") else (6, 6) if k.startswith("W_h") else (6,))
        for k, v in P.items()
    )
    module = MODULES[kind](4, 6).double()
    X = torch.randn(7, 2, 4, dtype=torch.float64)
    out, _ = rnn.run(kind, X, None, rnn.params_from_torch(module))
    torch.testing.assert_close(out, module(X)[0], rtol=0, atol=TOL)


def test_model_shapes_and_errors():
    model = rnn.RNNModel("lstm", 1, 8, 1)
    assert model(torch.randn(4, 10, 1)).shape == (4, 10, 1)
    with pytest.raises(ValueError, match="kind"):
        rnn.run("transformer", torch.zeros(1, 1, 1), None, {})
    with pytest.raises(ValueError, match="one-layer"):
        rnn.params_from_torch(nn.LSTM(2, 3, num_layers=2))
