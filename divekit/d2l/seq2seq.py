"""The 1.0 edition's encoder–decoder chapters: ``MTFraEng``, ``Encoder``, ``Decoder``, ``EncoderDecoder``,
``init_seq2seq``, ``Seq2SeqEncoder``, ``Seq2Seq``, ``bleu``, ``show_list_len_pair_hist``, and the helpers both
editions share (``preprocess_nmt``, ``sequence_mask``).

The English–French pairs (``fra-eng.zip``) are not among divekit's offline data: they are looked up in the
divekit cache and downloaded (SHA-1 checked) when there is a network.
"""

from __future__ import annotations

import collections
import math
import os

import torch
from torch import nn

from divekit.d2l.classify import Classifier
from divekit.d2l.framework import DataModule
from divekit.d2l.hub import download_extract
from divekit.d2l.language import GRU
from divekit.d2l.plotting import plt, set_figsize
from divekit.d2l.text import Vocab


def preprocess_nmt(text: str) -> str:
    """Non-breaking spaces → spaces, lower case, a space before ``,.!?`` that follow a non-space."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [" " + char if i > 0 and char in ",.!?" and text[i - 1] != " " else char for i, char in enumerate(text)]
    return "".join(out)


def sequence_mask(X: torch.Tensor, valid_len: torch.Tensor, value: float = 0) -> torch.Tensor:
    """Set ``X[i, j] = value`` (in place) wherever ``j ≥ valid_len[i]``; returns ``X``."""
    mask = torch.arange(X.size(1), dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def read_data_nmt() -> str:
    """The raw tab-separated English–French pairs."""
    with open(os.path.join(download_extract("fra-eng"), "fra-eng", "fra.txt"), encoding="utf-8") as f:
        return f.read()


class MTFraEng(DataModule):
    """English → French pairs as padded index arrays ``(src, tgt_in, src_valid_len, tgt_out)``."""

    def _download(self) -> str:
        return read_data_nmt()

    def _preprocess(self, text: str) -> str:
        return preprocess_nmt(text)

    def _tokenize(self, text: str, max_examples=None):
        src, tgt = [], []
        for i, line in enumerate(text.split("\n")):
            if max_examples and i > max_examples:
                break
            parts = line.split("\t")
            if len(parts) == 2:
                src.append([t for t in f"{parts[0]} <eos>".split(" ") if t])
                tgt.append([t for t in f"{parts[1]} <eos>".split(" ") if t])
        return src, tgt

    def __init__(self, batch_size, num_steps=9, num_train=512, num_val=128):
        super().__init__()
        self.save_hyperparameters()
        self.arrays, self.src_vocab, self.tgt_vocab = self._build_arrays(self._download())

    def _build_arrays(self, raw_text, src_vocab=None, tgt_vocab=None):
        def _build_array(sentences, vocab, is_tgt=False):
            sentences = [s[:self.num_steps] + ["<pad>"] * (self.num_steps - len(s)) for s in sentences]
            if is_tgt:
                sentences = [["<bos>"] + s for s in sentences]
            if vocab is None:
                vocab = Vocab(sentences, min_freq=2, order="alphabetical")
            array = torch.tensor([vocab[s] for s in sentences])
            valid_len = (array != vocab["<pad>"]).type(torch.int32).sum(1)
            return array, vocab, valid_len

        src, tgt = self._tokenize(self._preprocess(raw_text), self.num_train + self.num_val)
        src_array, src_vocab, src_valid_len = _build_array(src, src_vocab)
        tgt_array, tgt_vocab, _ = _build_array(tgt, tgt_vocab, True)
        return (src_array, tgt_array[:, :-1], src_valid_len, tgt_array[:, 1:]), src_vocab, tgt_vocab

    def get_dataloader(self, train):
        idx = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader(self.arrays, train, idx)

    def build(self, src_sentences, tgt_sentences):
        raw_text = "\n".join([src + "\t" + tgt for src, tgt in zip(src_sentences, tgt_sentences, strict=False)])
        arrays, _, _ = self._build_arrays(raw_text, self.src_vocab, self.tgt_vocab)
        return arrays


def show_list_len_pair_hist(legend, xlabel, ylabel, xlist, ylist) -> None:
    """Histogram of the lengths of two lists of sequences."""
    set_figsize()
    _, _, patches = plt.hist([[len(seq) for seq in xlist], [len(seq) for seq in ylist]])
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    for patch in patches[1].patches:
        patch.set_hatch("/")
    plt.legend(legend)


class Encoder(nn.Module):
    """Base encoder: ``forward(X, *args)``."""

    def forward(self, X, *args):
        raise NotImplementedError


class Decoder(nn.Module):
    """Base decoder: ``init_state(enc_all_outputs, *args)`` and ``forward(X, state)``."""

    def init_state(self, enc_all_outputs, *args):
        raise NotImplementedError

    def forward(self, X, state):
        raise NotImplementedError


class EncoderDecoder(Classifier):
    """An encoder and a decoder trained as a classifier of the next target token."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_all_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_all_outputs, *args)
        return self.decoder(dec_X, dec_state)[0]

    def predict_step(self, batch, device, num_steps, save_attention_weights=False):
        """Greedy decoding of ``num_steps`` tokens; returns ``(tokens [B, num_steps], attention weights)``."""
        src, tgt, src_valid_len, _ = [a.to(device) for a in batch]
        enc_all_outputs = self.encoder(src, src_valid_len)
        dec_state = self.decoder.init_state(enc_all_outputs, src_valid_len)
        outputs, attention_weights = [tgt[:, 0].unsqueeze(1)], []
        for _ in range(num_steps):
            Y, dec_state = self.decoder(outputs[-1], dec_state)
            outputs.append(Y.argmax(2))
            if save_attention_weights:
                attention_weights.append(self.decoder.attention_weights)
        return torch.cat(outputs[1:], 1), attention_weights


def init_seq2seq(module: nn.Module) -> None:
    """Xavier-uniform weights for ``nn.Linear`` and every weight matrix of ``nn.GRU``."""
    if type(module) is nn.Linear:
        nn.init.xavier_uniform_(module.weight)
    if type(module) is nn.GRU:
        for param in module._flat_weights_names:
            if "weight" in param:
                nn.init.xavier_uniform_(module._parameters[param])


class Seq2SeqEncoder(Encoder):
    """Embedding + multilayer GRU: ``X [B, T]`` → ``(outputs [T, B, H], state [layers, B, H])``."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = GRU(embed_size, num_hiddens, num_layers, dropout)
        self.apply(init_seq2seq)

    def forward(self, X, *args):
        embs = self.embedding(X.t().type(torch.int64))
        return self.rnn(embs)


class Seq2Seq(EncoderDecoder):
    """Encoder–decoder trained with Adam; validation plots the loss only."""

    def __init__(self, encoder, decoder, tgt_pad, lr):
        super().__init__(encoder, decoder)
        self.save_hyperparameters()

    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """BLEU of a predicted against a label sentence (space-separated), n-grams up to ``k``."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i:i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i:i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i:i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score
