"""The notebook runner (tests/book/run_notebooks.py): how a notebook is prepared, a few light notebooks of each
edition executed in a real Jupyter kernel, live figures as one display updated in place, and (slow) every
notebook of both editions."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "book"))

import run_notebooks  # noqa: E402

NOTEBOOKS = run_notebooks.NOTEBOOKS
LIGHT = {"en-1.0.3": ["chapter_linear-regression__oo-design", "chapter_linear-regression__synthetic-regression-data"],
         "zh-2.0.0": ["chapter_optimization__gd"]}


def _kernel_or_skip():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")


def test_prepare_source_changes_the_import_and_drops_install_lines():
    cell = "!pip install d2l==1.0.3\n%matplotlib inline\nimport torch\nfrom d2l import torch as d2l\n"
    assert run_notebooks.prepare_source(cell, book=False, heavy=False) == "import torch\nfrom divekit import d2l"
    assert run_notebooks.prepare_source(cell, book=True, heavy=False) == "import torch\nfrom d2l import torch as d2l"


def test_quick_mode_caps_both_editions_epoch_counts():
    cell = "trainer = d2l.Trainer(max_epochs=10, num_gpus=1)\nlr, num_epochs = 0.9, 10\n"
    out = run_notebooks.prepare_source(cell, book=False, heavy=True).splitlines()
    assert out == ["trainer = d2l.Trainer(max_epochs=1, num_gpus=1)", "lr, num_epochs = 0.9, 10",
                   "num_epochs = min(num_epochs, 1)"]
    assert run_notebooks.prepare_source("%%time\nx = 1", book=False, heavy=True) == "%%time\nx = 1"
    assert run_notebooks.is_heavy("chapter_convolutional-modern__resnet")
    assert not run_notebooks.is_heavy("chapter_convolutional-neural-networks__lenet")


def test_stage_fashion_mnist_subset_is_stratified(tmp_path):
    import numpy as np

    from divekit.data.idx import read_idx, write_idx

    src = tmp_path / "src"
    src.mkdir()
    labels = np.repeat(np.arange(10, dtype=np.uint8), 30)
    for prefix in ("train", "t10k"):
        write_idx(src / f"{prefix}-images-idx3-ubyte.gz", np.zeros((300, 28, 28), dtype=np.uint8))
        write_idx(src / f"{prefix}-labels-idx1-ubyte.gz", labels)
    raw = tmp_path / "FashionMNIST" / "raw"
    run_notebooks.stage_fashion_mnist(raw, src, subset=50)
    kept = read_idx(raw / "train-labels-idx1-ubyte")
    assert len(kept) == 50 and np.bincount(kept).tolist() == [5] * 10
    assert read_idx(raw / "t10k-images-idx3-ubyte").shape == (50, 28, 28)
    assert gzip.decompress((src / "train-labels-idx1-ubyte.gz").read_bytes())[8:] == labels.tobytes()


def _run_cells(tmp_path, *cells: str):
    """Execute code cells in a fresh kernel (divekit importable); returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def test_live_figures_are_one_display_updated_in_place(tmp_path, monkeypatch):
    """In Jupyter, an ``Animator`` with many points and a ``ProgressBoard`` each leave one display output (a
    display id updated in place), not one image per point, and no duplicate figure at the end of the cell."""
    _kernel_or_skip()
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as in Jupyter
    nb = _run_cells(
        tmp_path,
        "from divekit import d2l\nanimator = d2l.Animator(xlabel='epoch', legend=['a', 'b'])\n"
        "for i in range(200):\n    animator.add(i, (i, 2 * i))",
        "board = d2l.ProgressBoard('x')\nfor x in range(100):\n    board.draw(x, x ** 0.5, 'sqrt', every_n=2)",
        "import divekit.d2l.live as live\nprint(live.STATS['redraws'], animator.X[0][-1], len(board.data['sqrt']))")
    for cell in nb.cells[:2]:
        displays = [o for o in cell.outputs if o.output_type == "display_data"]
        assert len(displays) == 1 and "image/svg+xml" in displays[0].data, cell.outputs
    redraws, last_x, points = nb.cells[2].outputs[0].text.split()
    assert int(redraws) < 100 and last_x == "199" and points == "50"  # throttled, yet every point drawn


@pytest.mark.parametrize("edition", sorted(LIGHT))
def test_light_notebooks_run_in_a_kernel(edition, shared_data):
    _kernel_or_skip()
    folder = NOTEBOOKS / edition
    if not folder.is_dir():
        pytest.skip(f"book notebooks not found at {folder}")
    for name in LIGHT[edition]:
        result = run_notebooks.run_notebook(folder / f"{name}.ipynb", shared_data, book=False, timeout=300)
        assert result["status"] == "PASS", (name, result)
        assert result["plot_seconds"] is not None and result["plot_seconds"] <= 0.05 * result["seconds"] + 0.5


@pytest.mark.slow
@pytest.mark.parametrize("edition", ["zh-2.0.0", "en-1.0.3"])
def test_every_notebook_runs(edition, shared_data):
    _kernel_or_skip()
    if not (NOTEBOOKS / edition).is_dir():
        pytest.skip(f"book notebooks not found at {NOTEBOOKS / edition}")
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "book" / "run_notebooks.py"), "--notebooks",
                           str(NOTEBOOKS / edition)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
