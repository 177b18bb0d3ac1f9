"""Airfoil data loading and the train_ch11 loop: lab rules vs torch.optim twins, book losses."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from divekit.errors import ConfigError, DataError
from divekit.optlab.airfoil import (
    AIRFOIL_URL,
    OPTIMIZER_RUNS,
    SGD_RUNS,
    ArrayLoader,
    airfoil_path,
    compare_airfoil,
    evaluate_loss,
    get_data_ch11,
    lab_trainer,
    load_airfoil,
    squared_loss,
    torch_trainer,
    train_ch11,
    train_concise_ch11,
)


def _data_root() -> Path:
    env = os.environ.get("DIVEKIT_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="module")
def airfoil():
    path = _data_root() / "d2l-misc" / "airfoil_self_noise.dat"
    if not path.is_file():
        pytest.skip(f"airfoil data not found at {path} (set DIVEKIT_DATA to the datasets folder)")
    return load_airfoil(path)


def _synthetic(rows: int = 200, seed: int = 0) -> np.ndarray:
    """A linear-ish regression table shaped like the airfoil data (5 features, then the target)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5)) * [1, 2, 3, 4, 5] + 10
    y = X @ [0.5, -1.0, 0.2, 0.0, 0.3] + rng.normal(size=rows)
    return np.column_stack([X, y])


def test_missing_file_names_the_absolute_path_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as e:
        airfoil_path(tmp_path)
    msg = str(e.value)
    assert str((tmp_path / "d2l-misc" / "airfoil_self_noise.dat").resolve()) in msg
    assert AIRFOIL_URL in msg and "DIVEKIT_DATA" in msg


def test_default_data_dir_is_env_then_dot_data(tmp_path, monkeypatch):
    monkeypatch.delenv("DIVEKIT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=str((tmp_path / "data").resolve())):
        airfoil_path()
    (tmp_path / "elsewhere").mkdir()
    np.savetxt(tmp_path / "elsewhere" / "airfoil_self_noise.dat", _synthetic(10), delimiter="\t")
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "elsewhere"))
    assert airfoil_path() == tmp_path / "elsewhere" / "airfoil_self_noise.dat"


@pytest.mark.parametrize("text, match", [("1\t2\t3\n4\t5\t6\n", "6 finite numbers"),
                                         ("a\tb\tc\td\te\tf\n", "tab-separated numbers")])
def test_malformed_file_is_a_data_error_naming_it(tmp_path, text, match):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(DataError, match=match) as e:
        load_airfoil(path)
    assert str(path.resolve()) in str(e.value)


def test_get_data_ch11_standardises_like_the_book():
    raw = _synthetic(120)
    data_iter, dim = get_data_ch11(batch_size=7, n=100, data=raw, dtype=torch.float64)
    X, y = data_iter.tensors
    assert dim == 5 and X.shape == (100, 5) and y.shape == (100,)
    full = (raw - raw.mean(0)) / raw.std(0)  # over all rows, target included, then the first n
    np.testing.assert_allclose(X.numpy(), full[:100, :5], rtol=1e-12)
    np.testing.assert_allclose(y.numpy(), full[:100, 5], rtol=1e-12)
    assert len(data_iter) == 15
    seen = torch.cat([yb for _, yb in data_iter])
    assert sorted(seen.tolist()) == sorted(y.tolist())  # every example once per pass
    with pytest.raises(ConfigError, match="n must be between 1 and 120"):
        get_data_ch11(n=1500, data=raw)
    with pytest.raises(ConfigError, match="batch_size"):
        get_data_ch11(batch_size=0, n=10, data=raw)


def test_evaluate_loss_fast_path_equals_batch_loop():
    data_iter, _ = get_data_ch11(batch_size=16, n=100, data=_synthetic(), dtype=torch.float64)
    w = torch.linspace(-1, 1, 5, dtype=torch.float64).reshape(5, 1)

    def net(X):
        return X @ w

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data_iter.tensors), batch_size=16)
    plain = [(X, y) for X, y in loader]  # a plain iterable: no tensors to shortcut through
    fast = evaluate_loss(net, data_iter, squared_loss)
    assert fast == pytest.approx(evaluate_loss(net, loader, squared_loss), rel=1e-12)
    assert fast == pytest.approx(evaluate_loss(net, plain, squared_loss), rel=1e-12)


# eps -> 0 for Adagrad and RMSProp: torch puts eps outside the square root, the book inside
EXACT = {"sgd": {"lr": 0.05}, "momentum": {"lr": 0.02, "momentum": 0.5}, "adadelta": {"rho": 0.9},
         "adam": {"lr": 0.01}, "adagrad": {"lr": 0.1, "eps": 1e-12},
         "rmsprop": {"lr": 0.01, "gamma": 0.9, "eps": 1e-12}}


@pytest.mark.parametrize("rule", list(EXACT))
def test_lab_rules_agree_with_torch_optim_in_float64(rule):
    data_iter, dim = get_data_ch11(batch_size=10, n=200, data=_synthetic(), dtype=torch.float64)
    runs = [train_ch11(make(rule), None, EXACT[rule], data_iter, dim, 2, eval_every=50, seed=0)
            for make in (lab_trainer, torch_trainer)]
    lab, twin = runs
    assert len(lab.losses) == 8 and lab.epochs[-1] == 2.0
    np.testing.assert_allclose(lab.losses, twin.losses, rtol=1e-6)
    for p, q in zip(lab.params, twin.params, strict=True):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=1e-6)
    assert lab.losses[-1] < lab.losses[0]


def test_train_concise_ch11_reports_half_the_mse():
    data_iter, _ = get_data_ch11(batch_size=10, n=200, data=_synthetic(), dtype=torch.float64)
    curve = train_concise_ch11(torch.optim.SGD, {"lr": 0.01}, data_iter, num_epochs=2, seed=0)
    w, b = curve.params
    X, y = data_iter.tensors
    half_mse = float(((X @ w.T + b).squeeze(1) - y).pow(2).mean() / 2)
    assert curve.losses[-1] == pytest.approx(half_mse, rel=1e-12)


def test_array_loader_without_shuffle_keeps_order():
    loader = ArrayLoader(torch.arange(5.0).reshape(5, 1), torch.arange(5.0), 2, shuffle=False)
    assert [yb.tolist() for _, yb in loader] == [[0.0, 1.0], [2.0, 3.0], [4.0]]


def test_airfoil_runs_reach_the_books_loss(airfoil):
    assert airfoil.shape == (1503, 6)
    pairs = compare_airfoil(airfoil, seed=0)
    assert set(pairs) == set(SGD_RUNS) | set(OPTIMIZER_RUNS)
    for label, pair in pairs.items():
        for kind, curve in pair.items():
            assert curve.losses[-1] < 0.26, (label, kind, curve.losses[-1])
            assert min(curve.losses) > 0.2, (label, kind)  # linear model: the book's floor is about 0.24
        np.testing.assert_allclose(pair["lab"].losses, pair["torch"].losses, rtol=1e-4, err_msg=label)
        assert all(b >= a for a, b in zip(pair["lab"].times, pair["lab"].times[1:], strict=False))
