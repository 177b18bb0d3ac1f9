"""Shared test set-up: where the real datasets are, and a quiet, single-threaded torch.

Real data is found through ``$DIVEKIT_DATA``; when unset, ``../shared/datasets`` next to the repository
is used if it exists. Tests that need it skip with a clear reason otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_default = REPO.parent / "shared" / "datasets"
if not os.environ.get("DIVEKIT_DATA") and _default.is_dir():
    os.environ["DIVEKIT_DATA"] = str(_default)
os.environ.setdefault("MPLBACKEND", "Agg")
# Small test models run faster on one thread, and never oversubscribe a shared 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def data_root() -> Path | None:
    root = os.environ.get("DIVEKIT_DATA")
    return Path(root) if root and Path(root).is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The real-datasets folder, or skip."""
    root = data_root()
    if root is None:
        pytest.skip("real datasets not found: set DIVEKIT_DATA to the shared datasets folder")
    return root


@pytest.fixture
def fmnist(shared_data: Path) -> Path:
    if not (shared_data / "fashion-mnist").is_dir():
        pytest.skip(f"fashion-mnist not found under {shared_data}")
    return shared_data


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never let a test write to (or read from) the real user cache."""
    monkeypatch.setenv("DIVEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def device_moves(monkeypatch) -> list:
    """The devices that ``Tensor.to`` is asked to move tensors to (dtype conversions are not counted) while the
    test runs: on a GPU each such copy from host memory makes the host wait for the device."""
    import torch

    real_to, moves = torch.Tensor.to, []

    def to(t, *args, **kwargs):
        moves.extend(a for a in args if isinstance(a, torch.device))
        return real_to(t, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    return moves
