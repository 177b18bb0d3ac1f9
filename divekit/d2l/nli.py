"""Natural language inference (the NLP-applications chapter): ``read_snli``, ``SNLIDataset``, ``load_data_snli``,
``predict_snli``. SNLI is not among divekit's offline data: it is looked up in the divekit cache and downloaded
(SHA-1 checked) when there is a network."""

from __future__ import annotations

import os
import re

import torch

from divekit.d2l import files  # noqa: F401  (registers DATA_HUB['SNLI'])
from divekit.d2l.hub import download_extract
from divekit.d2l.sentiment import truncate_pad
from divekit.d2l.text import Vocab, tokenize
from divekit.d2l.utils import try_gpu

LABELS = {"entailment": 0, "contradiction": 1, "neutral": 2}


def _clean(s: str) -> str:
    return re.sub(r"\s{2,}", " ", s.replace("(", "").replace(")", "")).strip()


def read_snli(data_dir, is_train: bool):
    """``(premises, hypotheses, labels)`` of the train or test file (unlabelled rows dropped)."""
    name = "snli_1.0_train.txt" if is_train else "snli_1.0_test.txt"
    with open(os.path.join(data_dir, name)) as f:
        rows = [row.split("\t") for row in f.readlines()[1:]]
    rows = [row for row in rows if row[0] in LABELS]
    return [_clean(r[1]) for r in rows], [_clean(r[2]) for r in rows], [LABELS[r[0]] for r in rows]


class SNLIDataset(torch.utils.data.Dataset):
    """Premises and hypotheses as ``num_steps`` word indices; ``ds[i]`` is ``((premise, hypothesis), label)``."""

    def __init__(self, dataset, num_steps: int, vocab=None):
        self.num_steps = num_steps
        premise_tokens, hypothesis_tokens = tokenize(dataset[0]), tokenize(dataset[1])
        self.vocab = vocab or Vocab(premise_tokens + hypothesis_tokens, min_freq=5, reserved_tokens=["<pad>"])
        self.premises, self.hypotheses = self._pad(premise_tokens), self._pad(hypothesis_tokens)
        self.labels = torch.tensor(dataset[2])
        print("read " + str(len(self.premises)) + " examples")

    def _pad(self, lines):
        return torch.tensor([truncate_pad(self.vocab[line], self.num_steps, self.vocab["<pad>"]) for line in lines])

    def __getitem__(self, idx):
        return (self.premises[idx], self.hypotheses[idx]), self.labels[idx]

    def __len__(self) -> int:
        return len(self.premises)


def load_data_snli(batch_size: int, num_steps: int = 50):
    """``(train_iter, test_iter, vocab)`` of SNLI."""
    data_dir = os.path.join(download_extract("SNLI"), "snli_1.0")
    train_set = SNLIDataset(read_snli(data_dir, True), num_steps)
    test_set = SNLIDataset(read_snli(data_dir, False), num_steps, train_set.vocab)
    train_iter = torch.utils.data.DataLoader(train_set, batch_size, shuffle=True)
    test_iter = torch.utils.data.DataLoader(test_set, batch_size, shuffle=False)
    return train_iter, test_iter, train_set.vocab


def predict_snli(net, vocab, premise, hypothesis) -> str:
    """``'entailment'``, ``'contradiction'`` or ``'neutral'`` for token lists ``premise`` and ``hypothesis``."""
    net.eval()
    premise = torch.tensor(vocab[premise], device=try_gpu())
    hypothesis = torch.tensor(vocab[hypothesis], device=try_gpu())
    label = torch.argmax(net([premise.reshape((1, -1)), hypothesis.reshape((1, -1))]), dim=1)
    return ("entailment", "contradiction", "neutral")[int(label)]
