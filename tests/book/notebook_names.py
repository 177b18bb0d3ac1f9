"""Which ``d2l.<name>`` the book's notebooks use, and every name the 1.0 edition's package defines for their
chapters.

``python tests/book/notebook_names.py`` parses the notebooks of ``../shared/book-notebooks/{zh-2.0.0,en-1.0.3}``
and writes ``notebook_names.json`` next to this file. ``EN_PACKAGE_NAMES`` lists the public names that d2l 1.0.3's
``d2l/torch.py`` defines in the chapters these notebooks come from (preliminaries through attention and
Transformers, optimization, NLP applications, hyperparameter optimization) and in its appendix of utilities and
framework aliases. ``tests/test_d2l_names.py`` checks that every one exists in ``divekit.d2l``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chapter_names import d2l_names

HERE = Path(__file__).resolve().parent
JSON = HERE / "notebook_names.json"
NOTEBOOKS = HERE.parents[2] / "shared" / "book-notebooks"
EDITIONS = ("zh-2.0.0", "en-1.0.3")

EN_PACKAGE_NAMES = [
    "Accumulator", "AddNorm", "AdditiveAttention", "Animator", "AttentionDecoder", "BasicScheduler", "Benchmark",
    "Classifier", "DATA_HUB", "DATA_URL", "DataModule", "Decoder", "DotProductAttention", "Encoder",
    "EncoderDecoder", "FashionMNIST", "GRU", "HPOScheduler", "HPOSearcher", "HPOTrainer", "HPOTuner",
    "HyperParameters", "LeNet", "LinearRegression", "LinearRegressionScratch", "MTFraEng", "MaskedSoftmaxCELoss",
    "Module", "MultiHeadAttention", "PositionWiseFFN", "PositionalEncoding", "ProgressBoard", "RNN", "RNNLM",
    "RNNLMScratch", "RNNScratch", "RandomSearcher", "ResNeXtBlock", "Residual", "SGD", "SNLIDataset", "Seq2Seq",
    "Seq2SeqEncoder", "SoftmaxRegression", "SuccessiveHalvingScheduler", "SyntheticRegressionData", "TimeMachine",
    "Timer", "Trainer", "TransformerEncoder", "TransformerEncoderBlock", "Vocab", "abs", "accuracy", "add_to_class",
    "annotate", "arange", "argmax", "astype", "batch_matmul", "bleu", "build_array_nmt", "check_len", "check_shape",
    "concat", "corr2d", "cos", "cosh", "cpu", "download", "download_extract", "evaluate_accuracy_gpu",
    "evaluate_loss", "exp", "expand_dims", "extract", "eye", "float32", "get_data_ch11", "get_dataloader_workers",
    "get_fashion_mnist_labels", "gpu", "grad_clipping", "hpo_objective_lenet", "init_cnn", "init_seq2seq", "int32",
    "int64", "linreg", "linspace", "load_array", "load_data_fashion_mnist", "load_data_imdb", "load_data_nmt",
    "load_data_snli", "log", "masked_softmax", "matmul", "meshgrid", "nn_Module", "normal", "num_gpus", "numpy",
    "ones", "ones_like", "plot", "predict_sentiment", "predict_seq2seq", "predict_snli", "preprocess_nmt", "rand",
    "randn", "rbfkernel", "read_data_nmt", "read_imdb", "read_snli", "reduce_mean", "reduce_sum", "repeat",
    "reshape", "sequence_mask", "set_axes", "set_figsize", "sgd", "show_heatmaps", "show_images",
    "show_list_len_pair_hist", "show_trace_2d", "sigmoid", "sin", "sinh", "size", "squared_loss", "stack",
    "swapaxes", "synthetic_data", "tanh", "tensor", "to", "tokenize", "tokenize_nmt", "train_2d", "train_ch11",
    "train_ch6", "train_concise_ch11", "train_seq2seq", "transpose", "truncate_pad", "try_all_gpus", "try_gpu",
    "use_svg_display", "zeros", "zeros_like",
]


def notebook_source(path: Path) -> str:
    """The code cells of a notebook, without IPython's ``!``/``%`` lines (which are not Python)."""
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(line for cell in code for line in cell.splitlines() if not line.lstrip().startswith(("!", "%")))


def collect(folder: Path) -> dict[str, dict[str, list[str]]]:
    """``{edition: {notebook stem: [d2l names]}}`` for the editions found under ``folder``."""
    return {edition: {p.stem: d2l_names(notebook_source(p)) for p in sorted((folder / edition).glob("*.ipynb"))}
            for edition in EDITIONS if (folder / edition).is_dir()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default=str(NOTEBOOKS))
    args = parser.parse_args(argv)
    table = collect(Path(args.notebooks))
    if not table:
        print(f"no notebooks found under {args.notebooks}", file=sys.stderr)
        return 2
    JSON.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {JSON} ({', '.join(f'{e}: {len(t)}' for e, t in table.items())} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
