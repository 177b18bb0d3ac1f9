"""Sentiment classifiers over token ids: the book's bidirectional LSTM and TextCNN (d2l chapter 16).

Both take ``ids int64 [B, T]``, right-padded with ``<pad>`` = 0, and return logits ``[B, num_classes]``.
Padding never changes the answer: the LSTM reads only each review's real tokens in both directions, and
TextCNN ignores windows that reach into the padding before max-over-time pooling. ``<pad>``'s
embedding row is kept at zero (``padding_idx=0``).

Tensor layouts, the one thing to keep straight with RNNs: ``nn.Embedding`` maps ``[B, T]`` to
``[B, T, E]``. ``nn.LSTM(batch_first=True)`` takes that directly; the default ``batch_first=False`` (the
book's choice) wants time first, ``[T, B, E]``, which the book gets by embedding ``ids.T``. The output
follows the input layout: ``[B, T, 2H]`` or ``[T, B, 2H]`` (2H: forward and backward states side by
side). ``nn.Conv1d`` wants channels before time, so TextCNN permutes ``[B, T, E]`` to ``[B, E, T]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from divekit.errors import ConfigError
from divekit.models.registry import register


def _need_vocab(name: str, vocab_size: int | None) -> int:
    if vocab_size is None or vocab_size < 3:
        raise ConfigError(f"model {name!r} needs vocab_size (≥ 3: <pad>, <unk> and a word); text models are "
                          f"built by the text pipeline, e.g. divekit train --data imdb --model {name}")
    return int(vocab_size)


def seq_lengths(ids: torch.Tensor) -> torch.Tensor:
    """Real length of each right-padded row of ``ids [B, T]`` (non-zero entries; at least 1)."""
    return (ids != 0).sum(1).clamp_(min=1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` steps of each row of ``x [B, T, ...]``, leaving the padding in place."""
    t = torch.arange(x.shape[1], device=x.device)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # [B, T]
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiRNNClassifier(nn.Module):
    """Embedding → bidirectional multi-layer LSTM → [output at the first step, output at the last step] →
    linear, as the book's ``BiRNN``: the forward direction has read the whole review at the last step, the
    backward direction at the first, so the ``4H`` features summarise it both ways.

    Each layer runs one LSTM forward and one over every review reversed within its own length, then puts
    the outputs side by side: exactly ``nn.LSTM(bidirectional=True)`` on packed sequences (tested), so the
    padding is never read, but at the speed of the unpacked kernels (packed ones are ~7× slower on a CPU).

    Args:
        vocab_size, embed_size: the embedding table (book: embed 100).
        num_hiddens, num_layers: LSTM size per direction (book: 100, 2 layers).
        batch_first: run the LSTMs on ``[B, T, E]`` (True) or on the book's time-first ``[T, B, E]`` (False,
            permuting in and out); the result is the same.
        dropout: between LSTM layers.
    """

    freeze_default = True  # the book trains its BiRNN on frozen GloVe vectors

    def __init__(self, vocab_size: int, embed_size: int = 100, num_hiddens: int = 100, num_layers: int = 2,
                 num_classes: int = 2, batch_first: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        sizes = [embed_size] + [2 * num_hiddens] * (num_layers - 1)
        self.forward_rnns = nn.ModuleList(nn.LSTM(n, num_hiddens, batch_first=batch_first) for n in sizes)
        self.backward_rnns = nn.ModuleList(nn.LSTM(n, num_hiddens, batch_first=batch_first) for n in sizes)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(4 * num_hiddens, num_classes)

    def _run(self, rnn: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
        """``x [B, T, In]`` through ``rnn`` in its own layout; returns ``[B, T, H]``."""
        if self.batch_first:
            return rnn(x)[0]
        return rnn(x.permute(1, 0, 2))[0].permute(1, 0, 2)  # [B, T, In] → [T, B, In] → ... → [B, T, H]

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """Per-step outputs ``[B, T, 2H]`` (forward and backward states side by side)."""
        lengths = seq_lengths(ids)
        x = self.embedding(ids)  # [B, T, E]
        for i, (fwd, bwd) in enumerate(zip(self.forward_rnns, self.backward_rnns, strict=True)):
            if i:
                x = self.dropout(x)
            back = reverse_padded(self._run(bwd, reverse_padded(x, lengths)), lengths)
            x = torch.cat([self._run(fwd, x), back], dim=2)
        return x

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.encode(ids)
        last = seq_lengths(ids) - 1
        rows = torch.arange(len(ids), device=ids.device)
        return self.decoder(torch.cat([out[:, 0], out[rows, last]], dim=1))  # [B, 4H] → [B, classes]

    def load_pretrained(self, weights: torch.Tensor, freeze: bool | None = None) -> None:
        """Initialise the embedding from ``weights [V, E]``; frozen unless ``freeze=False``."""
        from divekit.data.glove import init_embedding

        init_embedding(self.embedding, weights, self.freeze_default if freeze is None else freeze)


class TextCNN(nn.Module):
    """Two embeddings side by side (one trained, one kept fixed) → 1-D convolutions of several widths →
    ReLU → max over time → dropout → linear (the book's TextCNN; Kim 2014).

    Args:
        kernel_sizes, num_channels: one convolution per width (book: 3, 4, 5 with 100 channels each).
        dropout: before the classifier (book: 0.5).
    """

    freeze_default = False  # `embedding` is fine-tuned; `constant_embedding` is always frozen

    def __init__(self, vocab_size: int, embed_size: int = 100, kernel_sizes: tuple[int, ...] = (3, 4, 5),
                 num_channels: tuple[int, ...] = (100, 100, 100), num_classes: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__()
        if len(kernel_sizes) != len(num_channels):
            raise ConfigError(f"textcnn: {len(kernel_sizes)} kernel sizes but {len(num_channels)} channel counts")
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.constant_embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.constant_embedding.weight.requires_grad_(False)
        self.convs = nn.ModuleList(nn.Conv1d(2 * embed_size, c, k) for c, k in zip(num_channels, kernel_sizes,
                                                                                    strict=True))
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(sum(num_channels), num_classes)
        self.widest = max(kernel_sizes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] < self.widest:  # a text shorter than the widest kernel still gets one window
            ids = F.pad(ids, (0, self.widest - ids.shape[1]))
        lengths = seq_lengths(ids)
        x = torch.cat([self.embedding(ids), self.constant_embedding(ids)], dim=2)  # [B, T, 2E]
        x = x.permute(0, 2, 1)  # [B, 2E, T]: Conv1d wants channels before time
        features = []
        for conv in self.convs:
            h = F.relu(conv(x))  # [B, C, T - k + 1]
            # the windows an unpadded text has: those inside it (or the first, for a text shorter than k);
            # ReLU outputs are ≥ 0, so zeroing the others leaves the max over the text's windows
            last = (lengths - conv.kernel_size[0]).clamp(min=0)
            inside = torch.arange(h.shape[2], device=ids.device) <= last[:, None]
            features.append(h.masked_fill(~inside[:, None, :], 0.0).amax(dim=2))
        return self.decoder(self.dropout(torch.cat(features, dim=1)))

    def load_pretrained(self, weights: torch.Tensor, freeze: bool | None = None) -> None:
        """Both embeddings start from ``weights``; ``embedding`` is fine-tuned unless ``freeze=True``."""
        from divekit.data.glove import init_embedding

        init_embedding(self.embedding, weights, self.freeze_default if freeze is None else freeze)
        init_embedding(self.constant_embedding, weights, True)


@register("bilstm", "bidirectional 2-layer LSTM over word embeddings, first+last step → linear (d2l 16.2)",
          kind="text")
def bilstm(in_shape, num_classes, vocab_size: int | None = None, embed_size: int = 100, num_hiddens: int = 100,
           num_layers: int = 2, batch_first: bool = True, dropout: float = 0.0):
    return BiRNNClassifier(_need_vocab("bilstm", vocab_size), embed_size, num_hiddens, num_layers, num_classes,
                           batch_first, dropout)


@register("textcnn", "TextCNN: two embeddings, conv widths 3/4/5 × 100, max-over-time pooling (d2l 16.3)",
          kind="text")
def textcnn(in_shape, num_classes, vocab_size: int | None = None, embed_size: int = 100,
            kernel_sizes: tuple[int, ...] | list[int] = (3, 4, 5),
            num_channels: tuple[int, ...] | list[int] | int = 100, dropout: float = 0.5):
    kernel_sizes = tuple(int(k) for k in kernel_sizes)
    channels = (num_channels,) * len(kernel_sizes) if isinstance(num_channels, int) else tuple(num_channels)
    return TextCNN(_need_vocab("textcnn", vocab_size), embed_size, kernel_sizes, channels, num_classes, dropout)
