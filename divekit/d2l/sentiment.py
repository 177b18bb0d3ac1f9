"""Chapter 15 (sentiment analysis): IMDb reviews, GloVe vectors and the multi-device training loop."""

from __future__ import annotations

import os

import torch
from torch import nn

from divekit.d2l.plotting import Animator
from divekit.d2l.text import Vocab, tokenize
from divekit.d2l.training import accuracy, evaluate_accuracy_gpu, load_array
from divekit.d2l.utils import Accumulator, Timer, try_all_gpus, try_gpu
from divekit.d2l.vision import cap
from divekit.data import glove, imdb


def truncate_pad(line, num_steps: int, padding_token):
    """Cut ``line`` to ``num_steps`` tokens or pad it with ``padding_token``."""
    return line[:num_steps] if len(line) > num_steps else line + [padding_token] * (num_steps - len(line))


def read_imdb(data_dir, is_train: bool) -> tuple[list[str], list[int]]:
    """Reviews (newlines removed) and labels (1 = pos, 0 = neg) of an extracted ``aclImdb`` folder."""
    texts, labels = [], []
    for label in ("pos", "neg"):
        folder = os.path.join(data_dir, "train" if is_train else "test", label)
        for file in os.listdir(folder):
            with open(os.path.join(folder, file), "rb") as f:
                texts.append(f.read().decode("utf-8").replace("\n", ""))
            labels.append(1 if label == "pos" else 0)
    return texts, labels


def load_data_imdb(batch_size: int, num_steps: int = 500):
    """``(train_iter, test_iter, vocab)``: reviews as ``num_steps`` word indices, labels 1 = pos.

    Reads the archive in place (divekit's IMDb lookup, no extraction); quick mode caps each split.
    """
    splits = imdb.load_imdb()
    features, vocab = [], None
    for split in ("train", "test"):
        ds = splits[split]
        labels = torch.tensor(ds.labels)  # divekit's classes are ("neg", "pos"): 1 = pos as in the book
        texts, labels = cap([t.replace("\n", "") for t in ds.texts], labels, labels=labels)
        tokens = tokenize(texts, "word")
        vocab = vocab or Vocab(tokens, min_freq=5)
        ids = torch.tensor([truncate_pad(vocab[line], num_steps, vocab["<pad>"]) for line in tokens])
        features.append((ids, labels))
    train_iter = load_array(features[0], batch_size)
    test_iter = load_array(features[1], batch_size, is_train=False)
    return train_iter, test_iter, vocab


class TokenEmbedding:
    """Pretrained vectors by the book's names (``glove.6b.50d`` …): ``emb[tokens]`` → ``[len, D]``,
    index 0 is ``<unk>`` with the zero vector.

    ``glove.6b.100d`` is not among the offline data; then the 50-d vectors are used, zero-padded to 100
    dimensions (so models built for 100 still fit), and a note says so.
    """

    def __init__(self, embedding_name: str) -> None:
        name = embedding_name.lower()
        dim = int(name.rsplit(".", 1)[-1].rstrip("d")) if name.startswith("glove.6b.") else None
        key = f"glove-{dim}d" if dim else embedding_name
        try:
            vectors = glove.load_embedding(key)
        except Exception:
            if dim is None or dim == 50:
                raise
            vectors = glove.load_embedding("glove-50d")
            print(f"note: {embedding_name} not found locally; using glove.6b.50d vectors zero-padded to {dim} "
                  f"dimensions (put glove.6B.{dim}d.txt into $DIVEKIT_DATA/glove/ for the real ones)")
        weights = vectors.vectors
        if dim and weights.shape[1] < dim:
            weights = torch.cat([weights, torch.zeros(len(weights), dim - weights.shape[1])], 1)
        self.idx_to_token = ["<unk>"] + list(vectors.idx_to_token)
        self.idx_to_vec = torch.cat([torch.zeros(1, weights.shape[1]), weights])
        self.token_to_idx = {t: i for i, t in reversed(list(enumerate(self.idx_to_token)))}
        self.unknown_idx = 0

    def __getitem__(self, tokens) -> torch.Tensor:
        idx = [self.token_to_idx.get(t, self.unknown_idx) for t in tokens]
        return self.idx_to_vec[torch.tensor(idx)]

    def __len__(self) -> int:
        return len(self.idx_to_token)


def train_batch_ch13(net, X, y, loss, trainer, devices):
    """One step on one minibatch; returns ``(loss sum, correct predictions)``."""
    X = [x.to(devices[0]) for x in X] if isinstance(X, list) else X.to(devices[0])
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    pred = net(X)
    l = loss(pred, y)
    l.sum().backward()
    trainer.step()
    return l.sum().detach(), accuracy(pred, y)


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices=None) -> None:
    """Train on ``devices`` (data-parallel over several GPUs); prints loss/accuracies and examples/sec."""
    devices = devices or try_all_gpus()
    timer, num_batches = Timer(), len(train_iter)
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0, 1],
                        legend=["train loss", "train acc", "test acc"])
    if len(devices) > 1:
        net = nn.DataParallel(net, device_ids=devices)
    net = net.to(devices[0])
    for epoch in range(num_epochs):
        metric = Accumulator(4)  # loss sum, correct, examples, predictions
        for i, (features, labels) in enumerate(train_iter):
            timer.start()
            l, acc = train_batch_ch13(net, features, labels, loss, trainer, devices)
            metric.add(l, acc, labels.shape[0], labels.numel())
            timer.stop()
            if (i + 1) % (num_batches // 5 or 1) == 0 or i == num_batches - 1:
                animator.add(epoch + (i + 1) / num_batches, (metric[0] / metric[2], metric[1] / metric[3], None))
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (None, None, test_acc))
    animator.close()
    print(f"loss {metric[0] / metric[2]:.3f}, train acc {metric[1] / metric[3]:.3f}, test acc {test_acc:.3f}")
    print(f"{metric[2] * num_epochs / timer.sum():.1f} examples/sec on {str(devices)}")


def predict_sentiment(net, vocab, sequence: str) -> str:
    """``'positive'`` or ``'negative'`` for a whitespace-tokenised review."""
    sequence = torch.tensor(vocab[sequence.split()], device=try_gpu())
    label = torch.argmax(net(sequence.reshape(1, -1)), dim=1)
    return "positive" if label == 1 else "negative"
