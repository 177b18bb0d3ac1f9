"""The book's chapter code runs against ``divekit.d2l`` (slow: the whole runner), plus fast runner checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "book"))

import run_chapters  # noqa: E402

CHAPTERS = REPO.parent / "shared" / "d2l-chapters"


def test_clamp_epochs_rewrites_assignments_and_keywords():
    source = ("lr, num_epochs, batch_size = 0.1, 10,\\\n    256\n"
              "def train(num_epochs=4):\n    num_epochs = (3 +\n        2)\n"
              "fit(net, num_epochs=10, lr=2)\nif num_epochs == 3:\n    pass\n")
    out = run_chapters.clamp_epochs(source).splitlines()
    assert out[2] == "num_epochs = min(num_epochs, 1)"
    assert out[3] == "def train(num_epochs=1):"
    assert out[6] == "    num_epochs = min(num_epochs, 1)"
    assert out[7] == "fit(net, num_epochs=1, lr=2)"
    assert out.count("num_epochs = min(num_epochs, 1)") == 1 and len(out) == 10


def test_heavy_chapters_are_recognised():
    assert run_chapters.is_heavy("convolutional-modern__resnet")
    assert run_chapters.is_heavy("natural-language-processing-applications__sentiment-analysis-rnn")
    assert not run_chapters.is_heavy("convolutional-neural-networks__lenet")


@pytest.mark.slow
def test_book_chapters_run(shared_data):
    if not CHAPTERS.is_dir():
        pytest.skip(f"book chapters not found at {CHAPTERS}")
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "book" / "run_chapters.py"),
                           "--chapters", str(CHAPTERS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_torchvision_shim_reads_the_raw_files(tmp_path, monkeypatch):
    """The stand-in the runner uses when torchvision does not import: FashionMNIST + ToTensor/Resize."""
    import numpy as np

    from divekit.data.idx import write_idx

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    write_idx(raw / "t10k-images-idx3-ubyte", images, compress=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([7, 0, 9], dtype=np.uint8), compress=False)
    monkeypatch.syspath_prepend(str(run_chapters.SHIMS))
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)
    import torchvision
    from torchvision import transforms

    assert torchvision.__version__.endswith("divekit-shim")
    trans = transforms.Compose([transforms.Resize(64), transforms.ToTensor()])
    ds = torchvision.datasets.FashionMNIST(root=str(tmp_path), train=False, transform=trans, download=True)
    x, y = ds[2]
    assert len(ds) == 3 and y == 9 and x.shape == (1, 64, 64) and x.dtype == torch.float32
    x0, _ = torchvision.datasets.FashionMNIST(root=str(tmp_path), train=False, transform=transforms.ToTensor())[1]
    assert torch.allclose(x0[0], torch.from_numpy(images[1]).float() / 255)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        torchvision.datasets.FashionMNIST(root=str(tmp_path), train=True)
