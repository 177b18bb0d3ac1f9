"""Linear regression from scratch vs. its nn.Linear/optim.SGD twin (book §3.2-3.3)."""

import pytest
import torch

from divekit.scratch.linear import (
    data_iter,
    linreg,
    sgd,
    squared_loss,
    synthetic_data,
    train_linreg,
    train_linreg_concise,
)

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


def test_synthetic_data_shapes_and_fit():
    g = torch.Generator().manual_seed(0)
    X, y = synthetic_data(torch.tensor(TRUE_W), TRUE_B, 1000, generator=g)
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    residual = y - (X @ torch.tensor(TRUE_W).reshape(2, 1) + TRUE_B)
    assert abs(float(residual.std()) - 0.01) < 0.002  # the noise level asked for
    with pytest.raises(ValueError, match="1-D"):
        synthetic_data(torch.ones(2, 2), 0.0, 10)


def test_data_iter_visits_each_example_once_in_shuffled_order():
    X = torch.arange(25.0).reshape(25, 1)
    y = torch.arange(25)
    batches = list(data_iter(10, X, y, generator=torch.Generator().manual_seed(1)))
    assert [len(b[0]) for b in batches] == [10, 10, 5]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(25))
    assert seen.tolist() != list(range(25))
    assert all(torch.equal(xb[:, 0].long(), yb) for xb, yb in batches)  # rows stay paired
    with pytest.raises(ValueError, match="labels"):
        next(data_iter(2, X, y[:3]))


def test_linreg_loss_and_sgd_match_torch_float64():
    torch.manual_seed(0)
    X, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64)
    w = torch.randn(3, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, dtype=torch.float64, requires_grad=True)
    lin = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        lin.weight.copy_(w.T)
        lin.bias.copy_(b)
    l_ours = squared_loss(linreg(X, w, b), y).mean()
    l_torch = torch.nn.functional.mse_loss(lin(X), y) / 2
    assert abs(float((l_ours - l_torch).detach())) <= 1e-12
    l_ours.backward()
    l_torch.backward()
    torch.testing.assert_close(w.grad, lin.weight.grad.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.grad, lin.bias.grad, rtol=0, atol=1e-12)
    # sgd divides by the batch size (the losses are summed) and zeroes the gradient
    w_before, g = w.detach().clone(), w.grad.clone()
    sgd([w], lr=0.5, batch_size=4)
    torch.testing.assert_close(w.detach(), w_before - 0.5 * g / 4, rtol=0, atol=1e-15)
    assert torch.count_nonzero(w.grad) == 0


def test_training_recovers_book_parameters():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X, y = synthetic_data(torch.tensor(TRUE_W), TRUE_B, 1000, generator=g)
    w, b, losses = train_linreg(X, y, lr=0.03, batch_size=10, num_epochs=3, generator=g)
    assert len(losses) == 3 and losses[0] > losses[-1]
    assert losses[-1] < 2e-4  # book: about 5e-5 (noise variance / 2)
    assert torch.allclose(w.reshape(-1), torch.tensor(TRUE_W), atol=0.01)
    assert abs(float(b) - TRUE_B) < 0.01


def test_concise_twin_takes_the_same_steps_float64():
    # MSELoss has no 1/2 and averages: nn.Linear+SGD with lr equals scratch with 2 lr (same batches and init)
    g = torch.Generator().manual_seed(3)
    X, y = synthetic_data(torch.tensor(TRUE_W, dtype=torch.float64), TRUE_B, 1000, generator=g)
    init = (torch.full((2, 1), 0.1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    w1, b1, l1 = train_linreg(X, y, lr=0.06, generator=torch.Generator().manual_seed(5), init=init)
    w2, b2, l2 = train_linreg_concise(X, y, lr=0.03, generator=torch.Generator().manual_seed(5), init=init)
    torch.testing.assert_close(w1, w2, rtol=0, atol=1e-10)
    torch.testing.assert_close(b1, b2, rtol=0, atol=1e-10)
    assert l1 == pytest.approx(l2, abs=1e-10)
    assert abs(float(b2) - TRUE_B) < 0.01
