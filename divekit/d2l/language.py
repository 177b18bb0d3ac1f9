"""The 1.0 edition's language-model chapters: ``TimeMachine``, ``RNNScratch``, ``RNNLMScratch``, ``RNN``,
``RNNLM``, ``GRU`` and the ``check_len``/``check_shape`` asserts.

``TimeMachine`` reads the novel through divekit's offline lookup; in quick mode (``DIVEKIT_BOOK_SUBSET=N``) its
loaders keep the first N windows of each split.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from divekit.d2l.classify import Classifier
from divekit.d2l.files import download
from divekit.d2l.framework import DataModule, Module
from divekit.d2l.hub import DATA_URL
from divekit.d2l.text import Vocab


class TimeMachine(DataModule):
    """The novel as characters: ``X``/``Y`` are all windows of ``num_steps`` characters and the same shifted
    by one; the first ``num_train`` windows train, the next ``num_val`` validate."""

    def _download(self) -> str:
        fname = download(DATA_URL + "timemachine.txt", self.root, "090b5e7e70c295757f55df93cb0a180b9691891a")
        with open(fname) as f:
            return f.read()

    def _preprocess(self, text: str) -> str:
        return re.sub("[^A-Za-z]+", " ", text).lower()

    def _tokenize(self, text: str) -> list[str]:
        return list(text)

    def build(self, raw_text: str, vocab=None):
        """``(corpus indices, vocab)``; a new vocabulary is sorted alphabetically, as in the 1.0 edition."""
        tokens = self._tokenize(self._preprocess(raw_text))
        if vocab is None:
            vocab = Vocab(tokens, order="alphabetical")
        return [vocab[token] for token in tokens], vocab

    def __init__(self, batch_size, num_steps, num_train=10000, num_val=5000):
        super().__init__()
        self.save_hyperparameters()
        corpus, self.vocab = self.build(self._download())
        array = torch.tensor([corpus[i:i + num_steps + 1] for i in range(len(corpus) - num_steps)])
        self.X, self.Y = array[:, :-1], array[:, 1:]

    def get_dataloader(self, train):
        idx = slice(0, self.num_train) if train else slice(self.num_train, self.num_train + self.num_val)
        return self.get_tensorloader([self.X, self.Y], train, idx)


class RNNScratch(Module):
    """A tanh RNN from parameters: ``forward(inputs [T, B, D], state)`` → ``(list of T states, last state)``."""

    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W_xh = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * sigma)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, inputs, state=None):
        if state is None:
            state = torch.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
        else:
            state, = state
        outputs = []
        for X in inputs:
            state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state, self.W_hh) + self.b_h)
            outputs.append(state)
        return outputs, state


def check_len(a, n: int) -> None:
    """Assert ``len(a) == n``."""
    assert len(a) == n, f"list's length {len(a)} != expected length {n}"


def check_shape(a, shape) -> None:
    """Assert ``a.shape == shape``."""
    assert a.shape == shape, f"tensor's shape {a.shape} != expected shape {shape}"


class RNNLMScratch(Classifier):
    """A character language model on an RNN ``rnn`` (one-hot inputs, linear output); plots perplexity."""

    def __init__(self, rnn, vocab_size, lr=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.init_params()

    def init_params(self):
        self.W_hq = nn.Parameter(torch.randn(self.rnn.num_hiddens, self.vocab_size) * self.rnn.sigma)
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def training_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("ppl", torch.exp(l), train=True)
        return l

    def validation_step(self, batch):
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("ppl", torch.exp(l), train=False)

    def one_hot(self, X):
        return F.one_hot(X.T, self.vocab_size).type(torch.float32)  # [num_steps, batch, vocab]

    def output_layer(self, rnn_outputs):
        return torch.stack([torch.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs], 1)

    def forward(self, X, state=None):
        rnn_outputs, _ = self.rnn(self.one_hot(X), state)
        return self.output_layer(rnn_outputs)

    def predict(self, prefix: str, num_preds: int, vocab, device=None) -> str:
        """Warm up on ``prefix``, then greedily generate ``num_preds`` characters."""
        state, outputs = None, [vocab[prefix[0]]]
        for i in range(len(prefix) + num_preds - 1):
            X = torch.tensor([[outputs[-1]]], device=device)
            rnn_outputs, state = self.rnn(self.one_hot(X), state)
            if i < len(prefix) - 1:
                outputs.append(vocab[prefix[i + 1]])
            else:
                Y = self.output_layer(rnn_outputs)
                outputs.append(int(Y.argmax(axis=2).reshape(1)))
        return "".join([vocab.idx_to_token[i] for i in outputs])


class RNN(Module):
    """``nn.RNN(num_inputs, num_hiddens)``: ``forward(inputs, H)`` → ``(outputs, H)``."""

    def __init__(self, num_inputs, num_hiddens):
        super().__init__()
        self.save_hyperparameters()
        self.rnn = nn.RNN(num_inputs, num_hiddens)

    def forward(self, inputs, H=None):
        return self.rnn(inputs, H)


class RNNLM(RNNLMScratch):
    """``RNNLMScratch`` with an ``nn.LazyLinear`` output layer."""

    def init_params(self):
        self.linear = nn.LazyLinear(self.vocab_size)

    def output_layer(self, hiddens):
        return self.linear(hiddens).swapaxes(0, 1)


class GRU(RNN):
    """A multilayer ``nn.GRU``."""

    def __init__(self, num_inputs, num_hiddens, num_layers, dropout=0):
        Module.__init__(self)
        self.save_hyperparameters()
        self.rnn = nn.GRU(num_inputs, num_hiddens, num_layers, dropout=dropout)
