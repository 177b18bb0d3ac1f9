"""Book compatibility: ``from divekit import d2l`` gives the ``d2l.<name>`` helpers that the PyTorch code of
"Dive into Deep Learning" uses, for both editions, with the book's signatures and printed output, built on divekit:

- the Chinese edition (d2l-zh 2.0, the d2l 0.17 API: ``train_ch3``, ``train_ch6``, ``load_data_fashion_mnist`` …);
- the English edition (d2l.ai 1.0, the class-based d2l 1.0 API: ``HyperParameters``, ``Module``, ``DataModule``,
  ``Trainer``, ``Classifier``, ``FashionMNIST``, ``TimeMachine``, ``RNNLMScratch`` …).

Where the editions define a name differently (``download``, ``Residual``), the call's signature selects the
edition. Data is found offline first (``$DIVEKIT_DATA``, the divekit cache), ``DIVEKIT_BOOK_SUBSET=N`` caps every
split the helpers load at N examples, and plots work without a display. See docs/book.md.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings

from divekit.d2l.attention import (
    AdditiveAttention,
    AddNorm,
    AttentionDecoder,
    DotProductAttention,
    MultiHeadAttention,
    PositionalEncoding,
    PositionWiseFFN,
    TransformerEncoder,
    TransformerEncoderBlock,
    masked_softmax,
    show_heatmaps,
)
from divekit.d2l.classify import (
    Classifier,
    FashionMNIST,
    KaggleHouse,
    LeNet,
    LinearRegression,
    LinearRegressionScratch,
    Residual,
    ResNeXtBlock,
    SoftmaxRegression,
    SyntheticRegressionData,
)
from divekit.d2l.files import download, extract
from divekit.d2l.framework import SGD, DataModule, HyperParameters, Module, ProgressBoard, Trainer, add_to_class
from divekit.d2l.hpo import (
    BasicScheduler,
    HPOScheduler,
    HPOSearcher,
    HPOTrainer,
    HPOTuner,
    RandomSearcher,
    SuccessiveHalvingScheduler,
    hpo_objective_lenet,
    rbfkernel,
)
from divekit.d2l.hub import DATA_HUB, DATA_URL, download_all, download_extract
from divekit.d2l.language import GRU, RNN, RNNLM, RNNLMScratch, RNNScratch, TimeMachine, check_len, check_shape
from divekit.d2l.nli import SNLIDataset, load_data_snli, predict_snli, read_snli
from divekit.d2l.nmt import (
    MaskedSoftmaxCELoss,
    build_array_nmt,
    load_data_nmt,
    predict_seq2seq,
    tokenize_nmt,
    train_seq2seq,
)
from divekit.d2l.optim import annotate, get_data_ch11, show_trace_2d, train_2d, train_ch11, train_concise_ch11
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
from divekit.d2l.seq2seq import (
    Decoder,
    Encoder,
    EncoderDecoder,
    MTFraEng,
    Seq2Seq,
    Seq2SeqEncoder,
    bleu,
    init_seq2seq,
    preprocess_nmt,
    read_data_nmt,
    sequence_mask,
    show_list_len_pair_hist,
)
from divekit.d2l.tensors import (
    abs,
    arange,
    argmax,
    astype,
    batch_matmul,
    concat,
    cos,
    cosh,
    exp,
    expand_dims,
    eye,
    float32,
    int32,
    int64,
    linspace,
    log,
    matmul,
    meshgrid,
    nn_Module,
    normal,
    numpy,
    ones,
    ones_like,
    rand,
    randn,
    reduce_mean,
    reduce_sum,
    repeat,
    reshape,
    sigmoid,
    sin,
    sinh,
    size,
    stack,
    swapaxes,
    tanh,
    tensor,
    to,
    transpose,
    zeros,
    zeros_like,
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
    init_cnn,
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
from divekit.d2l.utils import (
    Accumulator,
    Benchmark,
    Timer,
    cpu,
    get_dataloader_workers,
    gpu,
    num_gpus,
    try_all_gpus,
    try_gpu,
)
from divekit.d2l.vision import get_fashion_mnist_labels, load_data_fashion_mnist
from divekit.scratch.conv import corr2d


def _pandas_book_compat() -> None:
    """Make pandas ≥ 2 give the book's chapters the frames they were written for (only when pandas is installed).

    pandas ≥ 3 infers a ``str`` dtype for text columns, so the book's ``dtypes != 'object'`` would pick them as
    numeric: keep the classic ``object`` dtype. pandas ≥ 2 makes ``get_dummies`` columns ``bool``, so
    ``DataFrame.values`` of the Kaggle chapter's mixed frame is an object array that its own
    ``torch.tensor(…, dtype=torch.float32)`` refuses: ``get_dummies`` without a ``dtype`` gives ``uint8`` columns
    again, as pandas 1 did (an explicit ``dtype`` is honoured).
    """
    if importlib.util.find_spec("pandas") is None:
        return
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated (to go in pandas 4)
        if hasattr(pd.options, "future") and hasattr(pd.options.future, "infer_string"):
            pd.options.future.infer_string = False
    if getattr(pd.get_dummies, "_divekit_book", False):
        return
    original = pd.get_dummies

    @functools.wraps(original)
    def get_dummies(*args, **kwargs):
        kwargs.setdefault("dtype", "uint8")
        return original(*args, **kwargs)

    get_dummies._divekit_book = True
    pd.get_dummies = get_dummies


_pandas_book_compat()

__all__ = [
    "abs", "Accumulator", "accuracy", "add_to_class", "AdditiveAttention", "AddNorm", "Animator", "annotate", "arange",
    "argmax", "astype", "AttentionDecoder", "BasicScheduler", "batch_matmul", "Benchmark", "bleu", "build_array_nmt",
    "check_len", "check_shape", "Classifier", "concat", "corr2d", "cos", "cosh", "count_corpus", "cpu", "DATA_HUB",
    "DATA_URL", "DataModule", "Decoder", "DotProductAttention", "download", "download_all", "download_extract",
    "Encoder", "EncoderDecoder", "evaluate_accuracy", "evaluate_accuracy_gpu", "evaluate_loss", "exp", "expand_dims",
    "extract", "eye", "FashionMNIST", "float32", "get_data_ch11", "get_dataloader_workers", "get_fashion_mnist_labels",
    "gpu", "grad_clipping", "GRU", "hpo_objective_lenet", "HPOScheduler", "HPOSearcher", "HPOTrainer", "HPOTuner",
    "HyperParameters", "init_cnn", "init_seq2seq", "int32", "int64", "KaggleHouse", "LeNet", "LinearRegression",
    "LinearRegressionScratch", "linreg", "linspace", "load_array", "load_corpus_time_machine",
    "load_data_fashion_mnist", "load_data_imdb", "load_data_nmt", "load_data_snli", "load_data_time_machine", "log",
    "masked_softmax", "MaskedSoftmaxCELoss", "matmul", "meshgrid", "Module", "MTFraEng", "MultiHeadAttention",
    "nn_Module", "normal", "num_gpus", "numpy", "ones", "ones_like", "plot", "plt", "PositionalEncoding",
    "PositionWiseFFN", "predict_ch3", "predict_ch8", "predict_sentiment", "predict_seq2seq", "predict_snli",
    "preprocess_nmt", "ProgressBoard", "rand", "randn", "RandomSearcher", "rbfkernel", "read_data_nmt", "read_imdb",
    "read_snli", "read_time_machine", "reduce_mean", "reduce_sum", "repeat", "reshape", "Residual", "ResNeXtBlock",
    "RNN", "RNNLM", "RNNLMScratch", "RNNModel", "RNNModelScratch", "RNNScratch", "Seq2Seq", "Seq2SeqEncoder",
    "seq_data_iter_random", "seq_data_iter_sequential", "SeqDataLoader", "sequence_mask", "set_axes", "set_figsize",
    "SGD", "sgd", "show_heatmaps", "show_images", "show_list_len_pair_hist", "show_trace_2d", "sigmoid", "sin", "sinh",
    "size", "SNLIDataset", "SoftmaxRegression", "squared_loss", "stack", "SuccessiveHalvingScheduler", "swapaxes",
    "synthetic_data", "SyntheticRegressionData", "tanh", "tensor", "TimeMachine", "Timer", "to", "TokenEmbedding",
    "tokenize", "tokenize_nmt", "train_2d", "train_batch_ch13", "train_ch11", "train_ch13", "train_ch3", "train_ch6",
    "train_ch8", "train_concise_ch11", "train_epoch_ch3", "train_epoch_ch8", "train_seq2seq", "Trainer",
    "TransformerEncoder", "TransformerEncoderBlock", "transpose", "truncate_pad", "try_all_gpus", "try_gpu",
    "use_svg_display", "Vocab", "zeros", "zeros_like",
]
