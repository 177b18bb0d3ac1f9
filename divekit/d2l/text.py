"""Chapter 8 (recurrent networks): the time machine corpus, the book's vocabulary and RNN training loop."""

from __future__ import annotations

import collections
import math
import random
import re

import torch
from torch import nn
from torch.nn import functional as F

from divekit.d2l.hub import download
from divekit.d2l.plotting import Animator
from divekit.d2l.utils import Accumulator, Timer
from divekit.d2l.vision import subset_limit


def read_time_machine() -> list[str]:
    """The novel's lines, letters only (runs of anything else → one space), lower-cased."""
    with open(download("time_machine")) as f:
        return [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in f]


def tokenize(lines, token: str = "word") -> list[list[str]]:
    """Split each line into words (on whitespace) or characters."""
    if token == "word":
        return [line.split() for line in lines]
    if token == "char":
        return [list(line) for line in lines]
    raise ValueError(f"token must be 'word' or 'char', got {token!r}")


def count_corpus(tokens) -> collections.Counter:
    """Token counts of a token list or a list of token lists."""
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [t for line in tokens for t in line]
    return collections.Counter(tokens)


class Vocab:
    """The book's vocabulary. ``vocab[token]`` / ``vocab[list]`` give indices, unknown tokens map to ``unk``.

    ``order="frequency"`` (the 0.17 edition, the default): ``<unk>`` = 0, then ``reserved_tokens``, then the
    tokens seen ≥ ``min_freq`` times, most frequent first. ``order="alphabetical"`` (the 1.0 edition, used by
    ``TimeMachine``): the same tokens sorted, ``<unk>`` among them. Both editions call ``Vocab`` with the same
    arguments, so the edition cannot be told from the call; only the indices differ, not what a model learns.
    """

    def __init__(self, tokens=None, min_freq: int = 0, reserved_tokens=None, *, order: str = "frequency") -> None:
        if order not in ("frequency", "alphabetical"):
            raise ValueError(f"order must be 'frequency' or 'alphabetical', got {order!r}")
        counter = count_corpus(tokens or [])
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        kept = [token for token, freq in self._token_freqs if freq >= min_freq]
        if order == "alphabetical":
            self.idx_to_token = sorted(set(["<unk>"] + list(reserved_tokens or []) + kept))
        else:
            self.idx_to_token = ["<unk>"] + list(reserved_tokens or [])
            seen = set(self.idx_to_token)
            self.idx_to_token += [t for t in kept if t not in seen and not seen.add(t)]
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, list | tuple):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(t) for t in tokens]

    def to_tokens(self, indices):
        """Token(s) of an index, a list of indices or a 1-D tensor."""
        if hasattr(indices, "__len__") and not (isinstance(indices, torch.Tensor) and indices.dim() == 0):
            return [self.idx_to_token[int(i)] for i in indices]
        return self.idx_to_token[int(indices)]

    @property
    def unk(self) -> int:
        return self.token_to_idx["<unk>"]

    @property
    def token_freqs(self) -> list[tuple[str, int]]:
        return self._token_freqs


def load_corpus_time_machine(max_tokens: int = -1):
    """Character indices of the novel (first ``max_tokens``) and their vocabulary."""
    tokens = tokenize(read_time_machine(), "char")
    vocab = Vocab(tokens)
    corpus = [vocab[t] for line in tokens for t in line]
    if max_tokens > 0:
        corpus = corpus[:max_tokens]
    return corpus, vocab


def seq_data_iter_random(corpus, batch_size: int, num_steps: int):
    """Minibatches of random, non-overlapping subsequences; Y is X shifted by one token."""
    corpus = corpus[random.randint(0, num_steps - 1):]
    num_subseqs = (len(corpus) - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(starts)
    for i in range(0, batch_size * (num_subseqs // batch_size), batch_size):
        batch = starts[i:i + batch_size]
        yield (torch.tensor([corpus[j:j + num_steps] for j in batch]),
               torch.tensor([corpus[j + 1:j + 1 + num_steps] for j in batch]))


def seq_data_iter_sequential(corpus, batch_size: int, num_steps: int):
    """Minibatches whose rows continue across batches (the hidden state may carry over)."""
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset:offset + num_tokens]).reshape(batch_size, -1)
    Ys = torch.tensor(corpus[offset + 1:offset + 1 + num_tokens]).reshape(batch_size, -1)
    for i in range(0, num_steps * (Xs.shape[1] // num_steps), num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]


class SeqDataLoader:
    """Iterable over (random or sequential) time machine minibatches."""

    def __init__(self, batch_size: int, num_steps: int, use_random_iter: bool, max_tokens: int) -> None:
        self.data_iter_fn = seq_data_iter_random if use_random_iter else seq_data_iter_sequential
        self.corpus, self.vocab = load_corpus_time_machine(max_tokens)
        cap = subset_limit()
        if cap is not None:  # quick mode: at most N subsequences of num_steps tokens, yet one full batch
            self.corpus = self.corpus[:max(cap, 2 * batch_size) * num_steps + 1]
        self.batch_size, self.num_steps = batch_size, num_steps

    def __iter__(self):
        return self.data_iter_fn(self.corpus, self.batch_size, self.num_steps)


def load_data_time_machine(batch_size: int, num_steps: int, use_random_iter: bool = False,
                           max_tokens: int = 10000):
    """``(data_iter, vocab)`` over the first ``max_tokens`` characters of the novel."""
    data_iter = SeqDataLoader(batch_size, num_steps, use_random_iter, max_tokens)
    return data_iter, data_iter.vocab


class RNNModelScratch:
    """An RNN from functions: ``get_params(vocab_size, num_hiddens, device)``, ``init_state(batch, hiddens,
    device)`` and ``forward_fn(inputs [T, B, V], state, params) -> (outputs [T*B, V], state)``."""

    def __init__(self, vocab_size, num_hiddens, device, get_params, init_state, forward_fn) -> None:
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.params = get_params(vocab_size, num_hiddens, device)
        self.init_state, self.forward_fn = init_state, forward_fn

    def __call__(self, X, state):
        X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
        return self.forward_fn(X, state, self.params)

    def begin_state(self, batch_size, device):
        return self.init_state(batch_size, self.num_hiddens, device)


class RNNModel(nn.Module):
    """A ``nn.RNN``/``GRU``/``LSTM`` layer on one-hot inputs with a linear output layer."""

    def __init__(self, rnn_layer, vocab_size, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rnn, self.vocab_size = rnn_layer, vocab_size
        self.num_hiddens = rnn_layer.hidden_size
        self.num_directions = 2 if rnn_layer.bidirectional else 1
        self.linear = nn.Linear(self.num_hiddens * self.num_directions, vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float32)
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape(-1, Y.shape[-1])), state

    def begin_state(self, device, batch_size=1):
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
        zeros = torch.zeros(shape, device=device)
        return (zeros, zeros.clone()) if isinstance(self.rnn, nn.LSTM) else zeros


def predict_ch8(prefix: str, num_preds: int, net, vocab, device) -> str:
    """Warm up on ``prefix``, then greedily generate ``num_preds`` characters."""
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab[prefix[0]]]
    for y in prefix[1:]:
        _, state = net(torch.tensor([outputs[-1]], device=device).reshape(1, 1), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(torch.tensor([outputs[-1]], device=device).reshape(1, 1), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join(vocab.idx_to_token[i] for i in outputs)


def grad_clipping(net, theta: float) -> None:
    """Rescale all gradients so that their joint L2 norm is at most ``theta``."""
    params = [p for p in net.parameters() if p.requires_grad] if isinstance(net, nn.Module) else net.params
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm


def _detach(state):
    return tuple(s.detach_() for s in state) if isinstance(state, tuple) else state.detach_()


def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter):
    """One epoch of truncated BPTT; returns ``(perplexity, tokens/sec)``."""
    state, timer = None, Timer()
    metric = Accumulator(2)  # loss sum, tokens
    for X, Y in train_iter:
        if state is None or use_random_iter:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            _detach(state)
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            grad_clipping(net, 1)
            updater.step()
        else:
            l.backward()
            grad_clipping(net, 1)
            updater(batch_size=1)  # the loss is already a mean
        metric.add(l.detach() * y.numel(), y.numel())
    return math.exp(metric[0] / metric[1]), metric[1] / timer.stop()


def train_ch8(net, train_iter, vocab, lr, num_epochs, device, use_random_iter=False) -> None:
    """Train a character-level language model; prints a sample every 10 epochs and the final perplexity."""
    from divekit.d2l.training import sgd

    loss = nn.CrossEntropyLoss()
    animator = Animator(xlabel="epoch", ylabel="perplexity", legend=["train"], xlim=[10, num_epochs])
    if isinstance(net, nn.Module):
        updater = torch.optim.SGD(net.parameters(), lr)
    else:
        def updater(batch_size):
            sgd(net.params, lr, batch_size)

    def predict(prefix):
        return predict_ch8(prefix, 50, net, vocab, device)

    for epoch in range(num_epochs):
        ppl, speed = train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter)
        if (epoch + 1) % 10 == 0:
            print(predict("time traveller"))
            animator.add(epoch + 1, [ppl])
    animator.close()
    print(f"困惑度 {ppl:.1f}, {speed:.1f} 词元/秒 {str(device)}")
    print(predict("time traveller"))
    print(predict("traveller"))
