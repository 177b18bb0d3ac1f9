"""Book compatibility: ``from divekit import d2l`` gives the ``d2l.<name>`` helpers that the PyTorch code of
"Dive into Deep Learning" uses, with the book's signatures and printed output, built on divekit.

Data is found offline first (``$DIVEKIT_DATA``, the divekit cache), ``DIVEKIT_BOOK_SUBSET=N`` caps every
split the helpers load at N examples (stratified), and plots work without a display. See docs/book.md.
"""

from __future__ import annotations

import importlib.util
import warnings

from divekit.d2l.hub import DATA_HUB, DATA_URL, download, download_all, download_extract
from divekit.d2l.optim import get_data_ch11, show_trace_2d, train_2d, train_ch11, train_concise_ch11
from divekit.d2l.plotting import Animator, plot, plt, set_axes, set_figsize, show_images, use_svg_display
from divekit.d2l.sentiment import (
    TokenEmbedding,
    load_data_imdb,
    predict_sentiment,
    read_imdb,
    train_batch_ch13,
    train_ch13,
    truncate_pad,
)
from divekit.d2l.tensors import (
    abs,
    arange,
    argmax,
    astype,
    concat,
    cos,
    cosh,
    exp,
    eye,
    float32,
    int32,
    linspace,
    log,
    matmul,
    meshgrid,
    normal,
    numpy,
    ones,
    rand,
    reduce_mean,
    reduce_sum,
    reshape,
    sin,
    sinh,
    size,
    stack,
    tanh,
    tensor,
    to,
    transpose,
    zeros,
)
from divekit.d2l.text import (
    RNNModel,
    RNNModelScratch,
    SeqDataLoader,
    Vocab,
    count_corpus,
    grad_clipping,
    load_corpus_time_machine,
    load_data_time_machine,
    predict_ch8,
    read_time_machine,
    seq_data_iter_random,
    seq_data_iter_sequential,
    tokenize,
    train_ch8,
    train_epoch_ch8,
)
from divekit.d2l.training import (
    accuracy,
    evaluate_accuracy,
    evaluate_accuracy_gpu,
    evaluate_loss,
    linreg,
    load_array,
    predict_ch3,
    sgd,
    squared_loss,
    synthetic_data,
    train_ch3,
    train_ch6,
    train_epoch_ch3,
)
from divekit.d2l.utils import Accumulator, Benchmark, Timer, num_gpus, try_all_gpus, try_gpu
from divekit.d2l.vision import get_fashion_mnist_labels, load_data_fashion_mnist
from divekit.models.blocks import Residual
from divekit.scratch.conv import corr2d


def _pandas_book_compat() -> None:
    """pandas ≥ 3 infers a ``str`` dtype for text columns, so the book's ``dtypes != 'object'`` would pick
    them as numeric; keep the classic ``object`` dtype as the book expects (only when pandas is installed)."""
    if importlib.util.find_spec("pandas") is None:
        return
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated (to go in pandas 4)
        if hasattr(pd.options, "future") and hasattr(pd.options.future, "infer_string"):
            pd.options.future.infer_string = False


_pandas_book_compat()

__all__ = [
    "abs", "Accumulator", "accuracy", "Animator", "arange", "argmax", "astype", "Benchmark", "concat", "corr2d",
    "cos", "cosh", "count_corpus", "DATA_HUB", "DATA_URL", "download", "download_all", "download_extract",
    "evaluate_accuracy", "evaluate_accuracy_gpu", "evaluate_loss", "exp", "eye", "float32", "get_data_ch11",
    "get_fashion_mnist_labels", "grad_clipping", "int32", "linreg", "linspace", "load_array",
    "load_corpus_time_machine", "load_data_fashion_mnist", "load_data_imdb", "load_data_time_machine", "log",
    "matmul", "meshgrid", "normal", "num_gpus", "numpy", "ones", "plot", "plt", "predict_ch3", "predict_ch8",
    "predict_sentiment", "rand", "read_imdb", "read_time_machine", "reduce_mean", "reduce_sum", "reshape",
    "Residual", "RNNModel", "RNNModelScratch", "seq_data_iter_random", "seq_data_iter_sequential", "SeqDataLoader",
    "set_axes", "set_figsize", "sgd", "show_images", "show_trace_2d", "sin", "sinh", "size", "squared_loss", "stack",
    "synthetic_data", "tanh", "tensor", "Timer", "to", "TokenEmbedding", "tokenize", "train_2d", "train_batch_ch13",
    "train_ch11", "train_ch13", "train_ch3", "train_ch6", "train_ch8", "train_concise_ch11", "train_epoch_ch3",
    "train_epoch_ch8", "transpose", "truncate_pad", "try_all_gpus", "try_gpu", "use_svg_display", "Vocab", "zeros",
]
