"""BiLSTM and TextCNN: layouts, equivalence with a packed ``nn.LSTM``, padding invariance, embeddings."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from divekit.errors import ConfigError
from divekit.models.registry import MODELS, build_model
from divekit.models.text import BiRNNClassifier, TextCNN, reverse_padded

V = 40


def batch(lengths, width, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, V, (len(lengths), width), generator=gen)
    ids[torch.arange(width) >= torch.tensor(lengths)[:, None]] = 0
    return ids


def test_registered_as_text_models_and_need_a_vocabulary():
    model = build_model("bilstm", (20,), 2, vocab_size=V)
    assert MODELS["bilstm"].kind == MODELS["textcnn"].kind == "text"
    assert isinstance(model, BiRNNClassifier) and model(batch([5, 20], 20)).shape == (2, 2)
    book = build_model("bilstm", (500,), 2, vocab_size=V)
    assert book.embedding.embedding_dim == 100 and book.decoder.in_features == 4 * 100 and len(book.forward_rnns) == 2
    cnn = build_model("textcnn", (20,), 2, vocab_size=V, embed_size=8, num_channels=4)
    assert [c.kernel_size[0] for c in cnn.convs] == [3, 4, 5] and [c.out_channels for c in cnn.convs] == [4, 4, 4]
    with pytest.raises(ConfigError, match="needs vocab_size"):
        build_model("bilstm", (20,), 2)
    with pytest.raises(ConfigError, match="kernel sizes"):
        TextCNN(V, 8, (3, 4), (5,))


def test_reverse_padded_reverses_only_the_real_tokens():
    x = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    assert reverse_padded(x, torch.tensor([3, 5])).tolist() == [[3, 2, 1, 0, 0], [8, 7, 6, 5, 4]]
    feats = torch.arange(2 * 5 * 3).view(2, 5, 3)
    assert torch.equal(reverse_padded(feats, torch.tensor([2, 5]))[0, :2], feats[0, :2].flip(0))


def test_batch_first_and_time_first_layouts_agree():
    """Same weights, ``[B, T, E]`` versus the book's ``[T, B, E]`` (reached by permuting): same logits."""
    torch.manual_seed(0)
    a = BiRNNClassifier(V, 6, 5, 2, batch_first=True).double()
    b = BiRNNClassifier(V, 6, 5, 2, batch_first=False).double()
    b.load_state_dict(a.state_dict())
    ids = batch([7, 3, 9], 9)
    torch.testing.assert_close(a(ids), b(ids), rtol=0, atol=1e-12)
    # and nn.LSTM itself: time-first input is the batch-first input permuted, outputs permuted back
    lstm_bf, lstm_tf = nn.LSTM(4, 3, batch_first=True).double(), nn.LSTM(4, 3).double()
    lstm_tf.load_state_dict(lstm_bf.state_dict())
    x = torch.randn(2, 6, 4, dtype=torch.float64)  # [B, T, E]
    torch.testing.assert_close(lstm_bf(x)[0], lstm_tf(x.permute(1, 0, 2))[0].permute(1, 0, 2), rtol=0, atol=1e-12)


def test_equals_bidirectional_lstm_on_packed_sequences():
    torch.manual_seed(1)
    model = BiRNNClassifier(V, 6, 5, num_layers=2).double()
    ref = nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True).double()
    with torch.no_grad():
        for layer in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{layer}").copy_(getattr(model.forward_rnns[layer], f"{name}_l0"))
                getattr(ref, f"{name}_l{layer}_reverse").copy_(getattr(model.backward_rnns[layer], f"{name}_l0"))
    lengths = [8, 3, 5, 1]
    ids = batch(lengths, 8, seed=2)
    packed = pack_padded_sequence(model.embedding(ids), torch.tensor(lengths), batch_first=True,
                                  enforce_sorted=False)
    expected, _ = pad_packed_sequence(ref(packed)[0], batch_first=True)
    got = model.encode(ids)
    for row, n in enumerate(lengths):
        torch.testing.assert_close(got[row, :n], expected[row, :n], rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: BiRNNClassifier(V, 6, 5, 2, dropout=0.3),
                                  lambda: TextCNN(V, 6, (2, 3), (4, 4), dropout=0.5)])
def test_padding_never_changes_the_logits(make):
    torch.manual_seed(3)
    model = make().double().eval()
    short = batch([4, 2, 6], 6, seed=4)
    long = torch.cat([short, torch.zeros(3, 11, dtype=torch.int64)], dim=1)
    torch.testing.assert_close(model(short), model(long), rtol=0, atol=1e-12)
    assert model(torch.tensor([[5]])).shape == (1, 2)  # shorter than any kernel, still a prediction
    assert torch.equal(model.embedding.weight[0], torch.zeros(6))  # <pad> embeds as zeros


def test_pretrained_embeddings_frozen_or_trained():
    weights = torch.randn(V, 6)
    weights[:2] = 0
    lstm = BiRNNClassifier(V, 6, 5, 1)
    lstm.load_pretrained(weights)
    assert torch.equal(lstm.embedding.weight, weights) and not lstm.embedding.weight.requires_grad  # book: frozen
    cnn = TextCNN(V, 6, (2,), (3,))
    cnn.load_pretrained(weights)
    assert cnn.embedding.weight.requires_grad and not cnn.constant_embedding.weight.requires_grad
    assert torch.equal(cnn.embedding.weight, cnn.constant_embedding.weight)
    loss = cnn(batch([3, 5], 5)).sum()
    loss.backward()
    assert cnn.embedding.weight.grad is not None and cnn.constant_embedding.weight.grad is None
    lstm.load_pretrained(weights, freeze=False)
    assert lstm.embedding.weight.requires_grad
