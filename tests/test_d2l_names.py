"""Every ``d2l.<name>`` the book's chapters use exists in ``divekit.d2l`` (tests/book/chapter_names.json), and the
helpers used by the chapters that the runner does not execute behave as those chapters expect."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from divekit import d2l

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "book"))

import chapter_names  # noqa: E402
import notebook_names  # noqa: E402

TABLE = json.loads(chapter_names.JSON.read_text())


def test_every_name_a_chapter_uses_exists():
    missing = sorted({f"{chapter}: d2l.{name}" for chapter, row in TABLE.items() for name in row["names"]
                      if not hasattr(d2l, name)})
    assert not missing, missing
    assert len(TABLE) >= 49 and sum(row["source"] == "d2l-zh" for row in TABLE.values()) == 12


def test_table_matches_the_extracted_chapters():
    if not chapter_names.DEFAULT_CHAPTERS.is_dir():
        pytest.skip(f"book chapters not found at {chapter_names.DEFAULT_CHAPTERS}")
    assert chapter_names.collect(chapter_names.DEFAULT_CHAPTERS) == TABLE, "rerun tests/book/chapter_names.py"


def test_d2l_names_reads_attributes_of_d2l_only():
    source = "d2l.DATA_HUB['x'] = 1\nnet = d2l.train_ch6(a.d2l, d2l.try_gpu())\nother.size(3)\n"
    assert chapter_names.d2l_names(source) == ["DATA_HUB", "train_ch6", "try_gpu"]


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    return tmp_path


def _blobs(n: int = 200, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, 1, 4, 4, generator=g) * 0.3 + (y.float() * 2 - 1)[:, None, None, None], y


def test_train_ch6_device_defaults_to_try_gpu(figures, capsys):
    """GoogLeNet's PyTorch cell calls ``train_ch6`` without a device."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    d2l.train_ch6(net, d2l.load_array(_blobs(), 50), d2l.load_array(_blobs(seed=1), 50, False), 2, 0.5)
    out = capsys.readouterr().out
    assert out.startswith(f"training on {d2l.try_gpu()}\n")
    acc = float(re.search(r"^loss [\d.]+, train acc [\d.]+, test acc ([\d.]+)$", out, re.M).group(1))
    assert acc > 0.9  # separable blobs


def test_evaluate_loss_reshapes_labels_like_the_book():
    """minibatch-sgd evaluates ``nn.MSELoss`` on ``[B, 1]`` outputs with ``[B]`` labels: no broadcasting."""
    X, y = torch.ones(6, 2), torch.arange(6.0)
    net = nn.Linear(2, 1)
    nn.init.zeros_(net.weight)
    nn.init.zeros_(net.bias)
    data_iter = d2l.load_array((X, y), 3, is_train=False)
    expected = ((0 + 1 + 4) / 3 + (9 + 16 + 25) / 3) / 2  # the book averages the per-batch means
    assert d2l.evaluate_loss(net, data_iter, nn.MSELoss()) == pytest.approx(expected)
    assert d2l.evaluate_loss(net, data_iter, d2l.squared_loss) == pytest.approx(55 / 6 / 2)


def test_train_epoch_ch3_on_regression_with_mse():
    """underfit-overfit: polynomial regression through ``train_epoch_ch3`` with ``nn.MSELoss``."""
    torch.manual_seed(0)
    X = torch.randn(100, 4)
    y = (X @ torch.tensor([5.0, 1.2, -3.4, 5.6])).reshape(-1, 1)
    net = nn.Sequential(nn.Linear(4, 1, bias=False))
    trainer = torch.optim.SGD(net.parameters(), lr=0.05)
    data_iter = d2l.load_array((X, y), 10)
    first, _ = d2l.train_epoch_ch3(net, data_iter, nn.MSELoss(), trainer)
    for _ in range(20):
        last, _ = d2l.train_epoch_ch3(net, data_iter, nn.MSELoss(), trainer)
    assert last < first / 100
    assert torch.allclose(net[0].weight.data, torch.tensor([[5.0, 1.2, -3.4, 5.6]]), atol=1e-2)


def test_animator_and_timer_as_minibatch_sgd_reads_them(figures):
    animator = d2l.Animator(xlabel="epoch", ylabel="loss", xlim=[0, 2], ylim=[0.22, 0.35])
    timer = d2l.Timer()
    for i in range(3):
        timer.stop()
        animator.add(i / 2, (0.3 - i / 100,))
        timer.start()
    assert animator.Y[0][-1] == pytest.approx(0.28) and animator.X[0] == [0, 0.5, 1.0]
    assert len(timer.times) == 3 and timer.avg() >= 0 and len(timer.cumsum()) == 3
    animator.close()


def test_plot_accepts_lists_of_curves_with_positional_labels(figures):
    d2l.set_figsize([6, 3])
    times = [[0.1, 0.2], [0.1, 0.3, 0.5]]
    losses = [[0.30, 0.25], [0.33, 0.27, 0.24]]
    axes = d2l.plot(times, losses, "time (sec)", "loss", xlim=[1e-2, 10], legend=["gd", "sgd"])
    assert axes.get_xlabel() == "time (sec)" and axes.get_ylabel() == "loss"
    assert [len(line.get_xdata()) for line in axes.get_lines()] == [2, 3]
    d2l.plt.close("all")


def test_train_concise_ch11_with_adadelta(figures, capsys):
    """adadelta: ``d2l.train_concise_ch11(torch.optim.Adadelta, {'rho': 0.9}, data_iter)``."""
    torch.manual_seed(0)
    X = torch.randn(400, 5)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.1 * torch.randn(400)
    times, losses = d2l.train_concise_ch11(torch.optim.Adadelta, {"rho": 0.9}, d2l.load_array((X, y), 10), 2)
    assert re.search(r"^loss: [\d.]+, [\d.]+ sec/epoch$", capsys.readouterr().out, re.M)
    assert len(times) == len(losses) == 4 and losses[-1] < losses[0]


def test_corr2d_multi_channel_matches_1x1_matmul():
    """channels: the 1x1 convolution as a matrix product equals summed ``corr2d`` over channels."""
    torch.manual_seed(0)
    X, K = d2l.normal(0, 1, (3, 3, 3)), d2l.normal(0, 1, (2, 3, 1, 1))
    Y1 = d2l.reshape(d2l.matmul(d2l.reshape(K, (2, 3)), d2l.reshape(X, (3, 9))), (2, 3, 3))
    Y2 = d2l.stack([sum(d2l.corr2d(x, k) for x, k in zip(X, Kc, strict=True)) for Kc in K], 0)
    assert float(d2l.reduce_sum(d2l.abs(Y1 - Y2))) < 1e-5
    ref = torch.nn.functional.conv2d(X[None], K)[0]
    assert torch.allclose(Y2, ref, atol=1e-6)


def _char_data(text: str = "time traveller " * 40, batch_size: int = 4, num_steps: int = 5):
    tokens = d2l.tokenize([text], "char")
    vocab = d2l.Vocab(tokens)
    corpus = [vocab[t] for t in tokens[0]]
    return list(d2l.seq_data_iter_sequential(corpus, batch_size, num_steps)), vocab


def test_gru_through_rnn_model_and_train_ch8(figures, capsys):
    """gru / rnn-concise: ``d2l.RNNModel(nn.GRU(...))`` and ``train_ch8`` lower the perplexity."""
    torch.manual_seed(0)
    train_iter, vocab = _char_data()
    net = d2l.RNNModel(nn.GRU(len(vocab), 32), len(vocab))
    state = net.begin_state(device="cpu", batch_size=4)
    X = train_iter[0][0]
    out, _ = net(X, state)
    assert state.shape == (1, 4, 32) and out.shape == (X.numel(), len(vocab))
    before = d2l.predict_ch8("time traveller", 10, net, vocab, "cpu")
    assert before.startswith("time traveller") and len(before) == len("time traveller") + 10
    d2l.train_ch8(net, train_iter, vocab, 1, 30, "cpu")
    out = capsys.readouterr().out
    ppl = float(re.search(r"^困惑度 ([\d.]+), [\d.]+ 词元/秒 cpu$", out, re.M).group(1))
    assert ppl < len(vocab) / 2  # far better than uniform guessing on this repetitive text


def test_rnn_model_scratch_with_a_gru_cell():
    torch.manual_seed(0)
    V, H = 7, 5

    def get_params(vocab_size, num_hiddens, device):
        return [(torch.randn(s) * 0.01).requires_grad_() for s in ((vocab_size, num_hiddens),
                                                                   (num_hiddens, vocab_size))]

    def init_state(batch_size, num_hiddens, device):
        return (d2l.zeros((batch_size, num_hiddens), device=device),)

    def step(inputs, state, params):
        W, Wo = params
        H_, = state
        outs = []
        for x in inputs:
            H_ = torch.tanh(x @ W + H_)
            outs.append(H_ @ Wo)
        return torch.cat(outs, 0), (H_,)

    net = d2l.RNNModelScratch(V, H, "cpu", get_params, init_state, step)
    y, (h,) = net(torch.randint(0, V, (2, 3)), net.begin_state(2, "cpu"))
    assert y.shape == (6, V) and h.shape == (2, H)


class _TinyTextCNN(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 8)
        self.conv = nn.Conv1d(8, 4, 2)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.decoder = nn.Linear(4, 2)

    def forward(self, inputs):
        x = self.embedding(inputs).permute(0, 2, 1)
        return self.decoder(torch.squeeze(torch.relu(self.pool(self.conv(x))), dim=-1))


def test_train_ch13_and_predict_sentiment_with_a_textcnn(figures, capsys):
    """sentiment-analysis-cnn: ``train_ch13`` with a ``reduction='none'`` loss, then ``predict_sentiment``."""
    torch.manual_seed(0)
    vocab = d2l.Vocab([["good", "great", "bad", "awful", "movie"]], reserved_tokens=["<pad>"])
    good, bad = vocab[["good", "great", "movie"]], vocab[["bad", "awful", "movie"]]
    X = torch.tensor([good, bad] * 32)
    y = torch.tensor([1, 0] * 32)
    net = _TinyTextCNN(len(vocab))
    trainer = torch.optim.Adam(net.parameters(), lr=0.05)
    devices = d2l.try_all_gpus()  # [cpu] here, the GPUs where there are some
    d2l.train_ch13(net, d2l.load_array((X, y), 16), d2l.load_array((X, y), 16, False),
                   nn.CrossEntropyLoss(reduction="none"), trainer, 5, devices)
    out = capsys.readouterr().out
    assert re.search(r"^loss [\d.]+, train acc [\d.]+, test acc 1\.000$", out, re.M)
    assert re.search(rf"examples/sec on {re.escape(str(devices))}$", out, re.M)
    assert d2l.predict_sentiment(net, vocab, "good great movie") == "positive"
    assert d2l.predict_sentiment(net, vocab, "bad awful movie") == "negative"


def test_load_data_time_machine_shapes(shared_data, monkeypatch):
    if not (shared_data / "d2l-misc" / "timemachine.txt").is_file():
        pytest.skip("d2l-misc/timemachine.txt not in the shared data")
    monkeypatch.delenv("DIVEKIT_BOOK_SUBSET", raising=False)
    train_iter, vocab = d2l.load_data_time_machine(32, 35)
    X, Y = next(iter(train_iter))
    assert len(vocab) == 28 and X.shape == Y.shape == (32, 35)
    assert torch.equal(X[:, 1:], Y[:, :-1])  # Y is X shifted by one character


def test_quick_mode_time_machine_keeps_one_full_batch(shared_data, monkeypatch):
    if not (shared_data / "d2l-misc" / "timemachine.txt").is_file():
        pytest.skip("d2l-misc/timemachine.txt not in the shared data")
    monkeypatch.setenv("DIVEKIT_BOOK_SUBSET", "4")  # fewer subsequences than one batch needs
    for use_random_iter in (False, True):
        train_iter, _ = d2l.load_data_time_machine(32, 35, use_random_iter)
        batches = list(train_iter)
        assert batches and batches[0][0].shape == (32, 35)
        assert len(train_iter.corpus) <= 2 * 32 * 35 + 1


NOTEBOOK_TABLE = json.loads(notebook_names.JSON.read_text())


def test_every_name_the_1_0_package_defines_for_the_notebooks_chapters_exists():
    missing = sorted(name for name in notebook_names.EN_PACKAGE_NAMES if not hasattr(d2l, name))
    assert not missing, missing
    assert len(notebook_names.EN_PACKAGE_NAMES) >= 150
    for name in ("HyperParameters", "Module", "Classifier", "masked_softmax", "DotProductAttention", "add_to_class"):
        assert name in notebook_names.EN_PACKAGE_NAMES


def test_every_name_a_notebook_uses_exists():
    missing = sorted({f"{edition}/{nb}: d2l.{name}" for edition, table in NOTEBOOK_TABLE.items()
                      for nb, names in table.items() for name in names if not hasattr(d2l, name)})
    assert not missing, missing
    assert {edition: len(table) for edition, table in NOTEBOOK_TABLE.items()} == {"zh-2.0.0": 48, "en-1.0.3": 57}


def test_notebook_table_matches_the_notebooks():
    if not notebook_names.NOTEBOOKS.is_dir():
        pytest.skip(f"book notebooks not found at {notebook_names.NOTEBOOKS}")
    assert notebook_names.collect(notebook_names.NOTEBOOKS) == NOTEBOOK_TABLE, "rerun tests/book/notebook_names.py"
