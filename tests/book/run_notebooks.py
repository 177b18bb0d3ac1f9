"""Execute the book's notebooks in a Jupyter kernel (nbclient + ipykernel), as readers run them.

Usage: ``python tests/book/run_notebooks.py [--notebooks DIR] [--book] [--timeout S] [--json FILE] [NAME ...]``

The kernel is this interpreter's (``python3`` kernel of the running Python): run the script with divekit's venv
for ``from divekit import d2l``, or with ``--book`` from an environment that has the book's own package (the
import line is then kept). Each notebook runs in a fresh temporary folder whose ``../data`` holds the data laid
out as the book's package expects it (Fashion-MNIST in torchvision's ``FashionMNIST/raw``, the Kaggle CSVs,
``timemachine.txt``, ``airfoil_self_noise.dat``), from ``$DIVEKIT_DATA``.

Only the import line changes (``from d2l import torch as d2l`` → ``from divekit import d2l``) and ``!pip …`` and
``%matplotlib …`` lines are dropped. Heavy notebooks run in quick mode: every ``num_epochs``/``max_epochs`` set to
1 (as ``run_chapters.py`` does) and each split capped at 2,000 examples: ``DIVEKIT_BOOK_SUBSET=2000`` for divekit,
and for the book's package a stratified 2,000-image Fashion-MNIST in its ``../data``. A notebook importing a
package that is not installed is ``SKIP``. Prints ``status seconds mode notebook`` per notebook (with divekit, also
the share of the time spent drawing live figures); exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_chapters import SHIMS, _importable, clamp_epochs, missing_modules  # noqa: E402

REPO = HERE.parents[1]
NOTEBOOKS = REPO.parent / "shared" / "book-notebooks"
BOOK_IMPORT = "from d2l import torch as d2l"
DIVEKIT_IMPORT = "from divekit import d2l"
HEAVY = ("convolutional-modern__", "recurrent-modern__", "rnn-scratch", "rnn-concise", "lr-scheduler",
         "sentiment-analysis-rnn", "sentiment-analysis-cnn", "vision-transformer", "hyperopt-intro")
QUICK_SUBSET = 2000
_DROP = re.compile(r"^\s*(!pip\s|%matplotlib\b)")
_PLOT_STATS = "import divekit.d2l.live as _live; print('DIVEKIT_PLOT_SECONDS', _live.STATS['seconds'])"


def is_heavy(name: str) -> bool:
    return any(h in name for h in HEAVY)


def prepare_source(source: str, book: bool, heavy: bool) -> str:
    """One code cell as it is run: the import line, dropped ``!pip``/``%matplotlib`` lines, quick mode."""
    lines = [line for line in source.splitlines() if not _DROP.match(line)]
    source = "\n".join(lines)
    if not book:
        source = source.replace(BOOK_IMPORT, DIVEKIT_IMPORT)
    if heavy and source.strip():
        try:
            source = clamp_epochs(source).rstrip("\n")
        except SyntaxError:  # IPython syntax the AST cannot read: leave the cell as it is
            pass
    return source


def prepare(nb, book: bool, heavy: bool):
    """The notebook with every code cell prepared and outputs cleared (nbformat node, changed in place)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = prepare_source(cell.source, book, heavy)
            cell.outputs, cell.execution_count = [], None
    return nb


def _read_idx(path: Path):
    import numpy as np

    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return raw[:4], np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _stratified(labels, n: int):
    """Sorted indices of ``n`` examples, every class in proportion to its size (seeded)."""
    import numpy as np

    rng = np.random.default_rng(0)
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picks.append(rng.permutation(idx)[:round(n * len(idx) / len(labels))])
    return np.sort(np.concatenate(picks))[:n]


def stage_fashion_mnist(raw: Path, source: Path, subset: int | None) -> None:
    """torchvision's ``FashionMNIST/raw`` layout (uncompressed IDX), optionally a stratified subset per split."""
    raw.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        files = {kind: source / f"{prefix}-{kind}-idx{1 if kind == 'labels' else 3}-ubyte.gz"
                 for kind in ("images", "labels")}
        if not all(f.is_file() for f in files.values()):
            continue
        keep = None
        if subset is not None:
            keep = _stratified(_read_idx(files["labels"])[1], subset)
        for f in files.values():
            target = raw / f.name[:-3]
            if keep is None:
                with gzip.open(f) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                continue
            magic, array = _read_idx(f)
            array = array[keep]
            header = magic + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
            target.write_bytes(header + array.tobytes())


def stage_data(root: Path, data: Path, subset: int | None) -> None:
    """``root/data`` as the book's package expects it (``../data`` from the notebook's folder)."""
    target = root / "data"
    target.mkdir()
    for pattern in ("kaggle-house-prices/*.csv", "d2l-misc/timemachine.txt", "d2l-misc/airfoil_self_noise.dat"):
        for f in data.glob(pattern):
            shutil.copy(f, target / f.name)
    stage_fashion_mnist(target / "FashionMNIST" / "raw", data / "fashion-mnist", subset)


def _error_line(exc: BaseException) -> str:
    """The exception a cell raised, in one line (``ename: evalue``)."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


def _plot_seconds(nb) -> float | None:
    for out in nb.cells[-1].get("outputs", []):
        m = re.search(r"DIVEKIT_PLOT_SECONDS ([\d.e-]+)", out.get("text", ""))
        if m:
            return float(m.group(1))
    return None


def _stream_tail(nb, chars: int = 2000) -> str:
    """The last ``chars`` characters the notebook printed (stdout/stderr of every cell)."""
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")
    return text[-chars:]


@contextlib.contextmanager
def kernel_env(root: Path, data: Path, book: bool, heavy: bool, shimmed: bool):
    """The environment a notebook's kernel starts with (restored afterwards): absolute ``DIVEKIT_DATA``, figures
    in ``root``, divekit (and the torchvision stand-in) on ``PYTHONPATH``, Jupyter's inline backend, quick mode."""
    saved = dict(os.environ)
    path_entries = ([str(SHIMS)] if shimmed else []) + ([] if book else [str(REPO)])
    os.environ.update(DIVEKIT_DATA=str(data), DIVEKIT_FIGURES=str(root / "figures"),
                      PYTHONPATH=os.pathsep.join(path_entries + [saved.get("PYTHONPATH", "")]))
    os.environ.pop("MPLBACKEND", None)
    os.environ.pop("DIVEKIT_BOOK_SUBSET", None)
    if heavy and not book:
        os.environ["DIVEKIT_BOOK_SUBSET"] = str(QUICK_SUBSET)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute(nb, work: Path, timeout: float) -> tuple[str, str]:
    """Run every cell in a fresh kernel with ``work`` as the current folder: ``(status, error line)``."""
    from nbclient import NotebookClient

    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}})
        client.execute()
    except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError …
        return ("TIMEOUT" if "Timeout" in type(e).__name__ else "FAIL"), _error_line(e)
    return "PASS", ""


def run_notebook(path: Path, data: Path, book: bool, timeout: float, out_dir: Path | None = None,
                 append: str | None = None) -> dict:
    """Execute one notebook (plus the code cell ``append``, for measurements); returns ``{"status", "seconds",
    "mode", "error", "plot_seconds", "tail"}`` (``tail``: the end of what it printed)."""
    import nbformat

    heavy = is_heavy(path.stem)
    nb = prepare(nbformat.read(path, as_version=4), book, heavy)
    result = {"mode": "quick" if heavy else "full", "error": "", "plot_seconds": None}
    if not book and str(REPO) not in sys.path:  # divekit from this checkout, also when this interpreter lacks it
        sys.path.insert(0, str(REPO))
    try:
        missing = missing_modules("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    except SyntaxError:
        missing = []
    shimmed = "torchvision" in missing and not book
    missing = [m for m in missing if not (shimmed and m == "torchvision")]
    if missing:
        return {**result, "status": "SKIP", "seconds": 0.0, "error": f"needs {', '.join(missing)} (not installed)"}
    nb.cells += [nbformat.v4.new_code_cell(code) for code in (append, None if book else _PLOT_STATS) if code]
    with tempfile.TemporaryDirectory(prefix="d2l-nb-") as tmp:
        root = Path(tmp)
        stage_data(root, data, QUICK_SUBSET if heavy and book else None)
        (root / "work").mkdir()
        with kernel_env(root, data, book, heavy, shimmed):
            start = time.perf_counter()
            result["status"], result["error"] = execute(nb, root / "work", timeout)
            result["seconds"] = time.perf_counter() - start
    if shimmed:
        result["note"] = "torchvision: the stand-in from tests/book/shims"
    if not book and result["status"] == "PASS":
        result["plot_seconds"] = _plot_seconds(nb)
    result["tail"] = _stream_tail(nb)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)
    return result


def select(folder: Path, names: list[str]) -> list[Path]:
    """Notebooks of ``folder`` (``*.ipynb``) whose stem equals or contains one of ``names`` (all when empty)."""
    notebooks = sorted(folder.glob("*.ipynb"))
    if not names:
        return notebooks
    stems = {p.stem for p in notebooks}
    return [p for p in notebooks if any(n == p.stem or (n not in stems and n in p.stem) for n in names)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (file stems or substrings); default all")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS / "zh-2.0.0"), help="folder of .ipynb files")
    parser.add_argument("--book", action="store_true", help="keep the book's import (its own d2l package)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per cell")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--out-dir", help="write the executed notebooks here")
    parser.add_argument("--append", help="a code cell to run after each notebook (e.g. to print a result)")
    args = parser.parse_args(argv)
    if not _importable("nbclient") or not _importable("ipykernel"):
        print("nbclient and ipykernel are needed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    data = Path(os.environ.get("DIVEKIT_DATA") or REPO.parent / "shared" / "datasets").resolve()
    notebooks = select(Path(args.notebooks), args.names)
    if not notebooks:
        print(f"no notebooks in {args.notebooks} matching {args.names}", file=sys.stderr)
        return 2
    results, failed = {}, 0
    for path in notebooks:
        r = run_notebook(path, data, args.book, args.timeout, Path(args.out_dir) if args.out_dir else None,
                         args.append)
        results[path.stem] = r
        share = f"{100 * r['plot_seconds'] / r['seconds']:5.1f}% plot" if r.get("plot_seconds") is not None else ""
        print(f"{r['status']:<8} {r['seconds']:8.1f}s  {r['mode']:<5} {share:>10}  {path.stem}", flush=True)
        if r["error"] or r.get("note"):
            print(f"    {r['error'] or r['note']}", flush=True)
        failed += r["status"] not in ("PASS", "SKIP")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"{sum(r['status'] == 'PASS' for r in results.values())}/{len(results)} notebooks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
