"""Run the book's chapter code against ``divekit.d2l``, one subprocess per chapter.

Usage: ``python tests/book/run_chapters.py [--chapters DIR] [--timeout S] [NAME ...]`` (names are file stems
or substrings; default: all). Each chapter runs in a fresh temporary directory with ``MPLBACKEND=Agg`` and an
absolute ``DIVEKIT_DATA``. Heavy chapters run in quick mode: ``DIVEKIT_BOOK_SUBSET=2000`` and every
``num_epochs`` clamped to 1 by rewriting the source. A ``../data`` folder next to the working directory is laid
out as the book's own code expects it (the Kaggle CSVs, Fashion-MNIST for torchvision), because a few chapters
read it directly rather than through ``d2l``. Prints ``<status> <seconds> <chapter>`` per chapter; exits 1 if any
failed.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIMS = Path(__file__).resolve().parent / "shims"
SHIMMED = ("torchvision",)  # stand-ins in SHIMS, used only when the real package does not import
HEAVY = ("convolutional-modern__", "recurrent-modern__", "rnn-scratch", "rnn-concise", "lr-scheduler",
         "sentiment-analysis-rnn", "sentiment-analysis-cnn")
QUICK_SUBSET = "2000"
EPOCH_NAMES = ("num_epochs", "max_epochs")  # the 0.17 and the 1.0 edition's names
_KWARG = re.compile(r"\b(num_epochs|max_epochs)\s*=\s*(\d+)\b(?=\s*[,)])")


def is_heavy(name: str) -> bool:
    return any(h in name for h in HEAVY)


def _assigned_epochs(node: ast.AST) -> list[str]:
    """The epoch-count names (``EPOCH_NAMES``) that an assignment statement assigns."""
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return sorted({n.id for t in targets if t is not None for n in ast.walk(t)
                   if isinstance(n, ast.Name) and n.id in EPOCH_NAMES})


def clamp_epochs(source: str) -> str:
    """Quick mode: ``num_epochs = min(num_epochs, 1)`` after each statement assigning ``num_epochs`` (tuples
    included), and ``num_epochs=<int>`` keyword arguments set to 1; the same for ``max_epochs``."""
    lines = source.splitlines()
    after: dict[int, tuple[str, list[str]]] = {}  # last line of an assignment -> (indentation, names)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and _assigned_epochs(node):
            after[node.end_lineno - 1] = (" " * node.col_offset, _assigned_epochs(node))
    out = []
    for i, line in enumerate(lines):
        out.append(_KWARG.sub(r"\1=1", line))
        if i in after:
            indent, names = after[i]
            out += [f"{indent}{name} = min({name}, 1)" for name in names]
    return "\n".join(out) + "\n"


def stage_book_data(root: Path, data: Path) -> None:
    """``root/data`` as the book's own code expects it (``../data`` from the working directory)."""
    target = root / "data"
    target.mkdir()
    for csv in (data / "kaggle-house-prices").glob("*.csv"):
        shutil.copy(csv, target / csv.name)
    raw = target / "FashionMNIST" / "raw"
    fm = data / "fashion-mnist"
    if fm.is_dir():
        raw.mkdir(parents=True)
        for gz in fm.glob("*.gz"):
            with gzip.open(gz) as src, open(raw / gz.name[:-3], "wb") as dst:
                shutil.copyfileobj(src, dst)


def _importable(name: str) -> bool:
    """Whether ``name`` imports (a torchvision wheel built for CUDA torch is installed yet fails to import)."""
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # ImportError, or RuntimeError from a mismatched binary extension
        return False
    return True


def missing_modules(source: str) -> list[str]:
    """Top-level modules the chapter imports itself that do not import here (e.g. torchvision)."""
    names = {n.name.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
             for n in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    return sorted(n for n in names if not _importable(n))


def run_chapter(path: Path, data: Path, timeout: float, subset: str = QUICK_SUBSET) -> tuple[str, float, str]:
    """Run one chapter; returns (status, seconds, output). A chapter importing a package that is not
    installed is skipped (``SKIP``), not failed: that package is the chapter's own dependency, not divekit's.
    A missing package with a stand-in in ``shims/`` (torchvision) is replaced by it; the status says so."""
    heavy = is_heavy(path.stem)
    source = path.read_text()
    missing = missing_modules(source)
    shimmed = [m for m in missing if m in SHIMMED]
    missing = [m for m in missing if m not in SHIMMED]
    if missing:
        return "SKIP", 0.0, f"needs {', '.join(missing)} (not installed)"
    with tempfile.TemporaryDirectory(prefix="d2l-book-") as tmp:
        root = Path(tmp)
        if "../data" in source or "'..', 'data'" in source:
            stage_book_data(root, data)
        work = root / "work"
        work.mkdir()
        script = work / path.name
        script.write_text(clamp_epochs(source) if heavy else source)
        path_entries = ([str(SHIMS)] if shimmed else []) + [str(REPO), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, MPLBACKEND="Agg", DIVEKIT_DATA=str(data), DIVEKIT_FIGURES=str(root / "figures"),
                   PYTHONPATH=os.pathsep.join(path_entries))
        env.pop("DIVEKIT_BOOK_SUBSET", None)
        if heavy:
            env["DIVEKIT_BOOK_SUBSET"] = subset
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, script.name], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=timeout)
            status = "PASS" if proc.returncode == 0 else f"FAIL(rc={proc.returncode})"
            output = proc.stdout + proc.stderr
            if shimmed:
                output = f"ran with the stand-in for {', '.join(shimmed)} from tests/book/shims\n" + output
        except subprocess.TimeoutExpired as e:
            status, output = "TIMEOUT", (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
                else str(e.stdout or "")
        return status, time.perf_counter() - start, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="chapters to run (file stems or substrings); default all")
    parser.add_argument("--chapters", default=os.environ.get("D2L_CHAPTERS", str(REPO.parent / "shared" /
                                                                             "d2l-chapters")))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per chapter")
    parser.add_argument("--subset", default=QUICK_SUBSET,
                        help=f"DIVEKIT_BOOK_SUBSET for heavy chapters (default {QUICK_SUBSET}, the quick mode; "
                             "smaller values only smoke-test the code path)")
    parser.add_argument("--log-dir", help="write each chapter's output to <log-dir>/<chapter>.log")
    args = parser.parse_args(argv)
    data = Path(os.environ.get("DIVEKIT_DATA") or REPO.parent / "shared" / "datasets").resolve()
    chapters = sorted(Path(args.chapters).glob("*.py"))
    if args.names:
        stems = {c.stem for c in chapters}  # an exact stem selects that chapter only, else a substring
        chapters = [c for c in chapters if any(n == c.stem or (n not in stems and n in c.stem) for n in args.names)]
    if not chapters:
        print(f"no chapters found in {args.chapters} matching {args.names}", file=sys.stderr)
        return 2
    failed = 0
    for path in chapters:
        status, seconds, output = run_chapter(path, data, args.timeout, args.subset)
        mode = ("quick" if args.subset == QUICK_SUBSET else f"n={args.subset}") if is_heavy(path.stem) else "full"
        print(f"{status:<12} {seconds:8.1f}s  {mode:<5} {path.stem}", flush=True)
        if args.log_dir:
            Path(args.log_dir).mkdir(parents=True, exist_ok=True)
            (Path(args.log_dir) / f"{path.stem}.log").write_text(output)
        if status == "SKIP" or output.startswith("ran with the stand-in"):
            print(f"    {output.splitlines()[0]}", flush=True)
        elif status != "PASS":
            failed += 1
            print("    " + "\n    ".join(output.strip().splitlines()[-8:]), flush=True)
    print(f"{len(chapters) - failed}/{len(chapters)} chapters passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
