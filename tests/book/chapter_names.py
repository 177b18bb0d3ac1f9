"""Which ``d2l.<name>`` each chapter of the book's PyTorch code uses, as a generated table.

``python tests/book/chapter_names.py`` parses every chapter in ``../shared/d2l-chapters`` (or ``--chapters``),
adds the chapters in divekit's scope that are not extracted there (``OTHER_CHAPTERS``, read by hand from
the ``#@tab pytorch`` / ``#@tab all`` cells of d2l-ai/d2l-zh), and writes ``chapter_names.json`` next to this
file; ``--markdown`` prints the table for docs/book.md. ``tests/test_d2l_names.py`` checks that every listed
name exists in ``divekit.d2l`` and that the JSON matches the chapters when they are present.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
JSON = HERE / "chapter_names.json"
DEFAULT_CHAPTERS = HERE.parents[2] / "shared" / "d2l-chapters"

# Chapters of the scope without a file in d2l-chapters: the d2l names of their PyTorch cells (d2l-zh).
OTHER_CHAPTERS: dict[str, list[str]] = {
    "linear-networks__softmax-regression-concise": ["load_data_fashion_mnist", "train_ch3"],
    "multilayer-perceptrons__underfit-overfit": ["Accumulator", "Animator", "float32", "load_array", "reduce_sum",
                                                 "reshape", "size", "tensor", "train_epoch_ch3"],
    "deep-learning-computation__parameters": [],
    "convolutional-neural-networks__channels": ["abs", "corr2d", "matmul", "normal", "reduce_sum", "reshape",
                                                "stack", "tensor"],
    "convolutional-modern__googlenet": ["load_data_fashion_mnist", "train_ch6"],
    "convolutional-modern__densenet": ["load_data_fashion_mnist", "train_ch6", "try_gpu"],
    "optimization__minibatch-sgd": ["Animator", "DATA_HUB", "DATA_URL", "Timer", "download", "evaluate_loss",
                                    "linreg", "load_array", "plot", "plt", "set_figsize", "squared_loss"],
    "optimization__adadelta": ["get_data_ch11", "train_ch11", "train_concise_ch11", "zeros"],
    "optimization__lr-scheduler": ["Accumulator", "Animator", "accuracy", "arange", "evaluate_accuracy_gpu",
                                   "load_data_fashion_mnist", "plot", "try_gpu"],
    "recurrent-neural-networks__rnn-concise": ["load_data_time_machine", "predict_ch8", "train_ch8", "try_gpu"],
    "recurrent-modern__gru": ["RNNModel", "RNNModelScratch", "load_data_time_machine", "train_ch8", "try_gpu",
                              "zeros"],
    "natural-language-processing-applications__sentiment-analysis-cnn": [
        "TokenEmbedding", "load_data_imdb", "predict_sentiment", "tensor", "train_ch13", "try_all_gpus", "zeros"],
}


def d2l_names(source: str) -> list[str]:
    """Sorted attribute names read from the module ``d2l`` (``d2l.X`` anywhere in ``source``)."""
    tree = ast.parse(source)
    return sorted({node.attr for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "d2l"})


def collect(chapters: Path) -> dict[str, dict]:
    """``{chapter: {"source": "d2l-chapters" | "d2l-zh", "names": [...]}}`` in chapter order."""
    table = {p.stem: {"source": "d2l-chapters", "names": d2l_names(p.read_text())}
             for p in sorted(chapters.glob("*.py"))}
    for stem, names in OTHER_CHAPTERS.items():
        table.setdefault(stem, {"source": "d2l-zh", "names": sorted(names)})
    return dict(sorted(table.items()))


def markdown(table: dict[str, dict]) -> str:
    lines = ["| chapter | code from | d2l names used |", "|---|---|---|"]
    for stem, row in table.items():
        names = ", ".join(f"`{n}`" for n in row["names"]) or "(none)"
        lines.append(f"| {stem} | {row['source']} | {names} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", default=str(DEFAULT_CHAPTERS))
    parser.add_argument("--markdown", action="store_true", help="print the markdown table instead of writing JSON")
    args = parser.parse_args(argv)
    chapters = Path(args.chapters)
    if not chapters.is_dir():
        print(f"chapters folder not found: {chapters}", file=sys.stderr)
        return 2
    table = collect(chapters)
    if args.markdown:
        print(markdown(table))
    else:
        JSON.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {JSON} ({len(table)} chapters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
