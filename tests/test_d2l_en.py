"""The 1.0 edition's class-based API in ``divekit.d2l``: the framework, its models and data, and the names both
editions define differently (``download``, ``Residual``, ``Vocab``), each in both uses."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from divekit import d2l


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    return tmp_path


def test_save_hyperparameters_and_add_to_class():
    class A(d2l.HyperParameters):
        def __init__(self, a, b, _hidden=3, c=4):
            self.save_hyperparameters(ignore=["c"])

    a = A(1, 2)
    assert (a.a, a.b) == (1, 2) and not hasattr(a, "c") and not hasattr(a, "_hidden")
    assert a.hparams == {"a": 1, "b": 2}

    @d2l.add_to_class(A)
    def total(self):
        return self.a + self.b

    assert a.total() == 3


def test_progress_board_averages_every_n_points(figures, capsys):
    board = d2l.ProgressBoard("x")
    for x in range(6):
        board.draw(x, torch.tensor(float(x)), "sin", every_n=2)
        board.draw(x, x * 10, "cos", every_n=3)
    board.flush()
    assert [tuple(p) for p in board.data["sin"]] == [(0.5, 0.5), (2.5, 2.5), (4.5, 4.5)]
    assert [tuple(p) for p in board.data["cos"]] == [(1.0, 10.0), (4.0, 40.0)]
    out = capsys.readouterr().out
    assert "x 0.50: sin 0.5" in out and len(list(figures.glob("board-*.png"))) == 1
    board.display = False  # the Kaggle chapter turns boards off
    board.draw(9, 1.0, "sin", every_n=1)
    assert "x 9" not in capsys.readouterr().out


def test_trainer_fits_linear_regression_scratch(figures):
    torch.manual_seed(0)
    data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)
    model = d2l.LinearRegressionScratch(2, lr=0.03)
    d2l.Trainer(max_epochs=10).fit(model, data)
    assert torch.allclose(model.w.detach().reshape(-1), torch.tensor([2, -3.4]), atol=0.05)
    assert abs(float(model.b.detach()) - 4.2) < 0.05
    assert {"train_loss", "val_loss"} <= set(model.board.data)
    assert len(model.board.data["val_loss"]) == 10 and len(model.board.data["train_loss"]) == 20


def test_trainer_fits_the_concise_linear_regression(figures):
    torch.manual_seed(0)
    data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)
    model = d2l.LinearRegression(lr=0.03)
    d2l.Trainer(max_epochs=3).fit(model, data)
    w, b = model.get_w_b()
    assert torch.allclose(w.reshape(-1), torch.tensor([2, -3.4]), atol=0.05) and abs(float(b) - 4.2) < 0.05


class _Blobs(d2l.DataModule):
    def __init__(self, batch_size=32):
        super().__init__()
        self.save_hyperparameters()
        g = torch.Generator().manual_seed(0)
        self.y = torch.randint(0, 2, (400,), generator=g)
        self.X = torch.randn(400, 1, 28, 28, generator=g) * 0.3 + (self.y.float() * 2 - 1)[:, None, None, None]

    def get_dataloader(self, train):
        i = slice(0, 300) if train else slice(300, None)
        return self.get_tensorloader((self.X, self.y), train, i)


def test_lenet_classifier_learns_with_the_fast_cpu_path(figures):
    """``Trainer`` gives a CPU model divekit's fused kernels once its lazy layers exist; it still learns."""
    torch.manual_seed(0)
    data = _Blobs()
    model = d2l.LeNet(lr=0.5, num_classes=2)
    model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
    d2l.Trainer(max_epochs=8).fit(model, data)
    assert type(model.net).__name__ == "FastSequential"
    assert model.board.data["val_acc"][-1].y > 0.9


def test_trainer_steps_the_book_default_sgd_bit_for_bit_as_torch_optim(figures):
    """A model keeping the book's ``configure_optimizers`` trains on divekit's SGD, to the very same weights as
    with the ``torch.optim.SGD`` that method returns."""

    class TorchSGDLeNet(d2l.LeNet):
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    weights = []
    for cls in (d2l.LeNet, TorchSGDLeNet):
        torch.manual_seed(0)
        data = _Blobs()
        model = cls(lr=0.5, num_classes=2)
        model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
        trainer = d2l.Trainer(max_epochs=2)
        trainer.fit(model, data)
        weights.append((type(trainer.optim).__module__, model.state_dict()))
    (fast_module, fast), (torch_module, plain) = weights
    assert fast_module == "divekit.speed.sgd" and torch_module == "torch.optim.sgd"
    assert all(torch.equal(fast[k], plain[k]) for k in plain)
    assert isinstance(d2l.LeNet().configure_optimizers(), torch.optim.SGD)  # what the book's method returns


def test_trainer_calls_a_configure_optimizers_put_on_module_with_add_to_class(monkeypatch, figures):
    book_method = d2l.Module.configure_optimizers
    monkeypatch.setattr(d2l.Module, "configure_optimizers", book_method)  # restored after the test

    @d2l.add_to_class(d2l.Module)
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    torch.manual_seed(0)
    data = _Blobs()
    model = d2l.LeNet(lr=0.01, num_classes=2)
    model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(model, data)
    assert isinstance(trainer.optim, torch.optim.Adam)


def test_num_gpus_is_honoured_up_to_the_gpus_there_are():
    trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
    assert len(trainer.gpus) == min(1, d2l.num_gpus())
    assert trainer.prepare_batch([torch.ones(1)])[0].device.type == ("cuda" if trainer.gpus else "cpu")
    assert d2l.cpu() == torch.device("cpu") and d2l.gpu(1) == torch.device("cuda:1")


def test_classifier_accuracy_and_loss():
    model = d2l.Classifier()
    Y_hat = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    Y = torch.tensor([1, 1, 1])
    assert float(model.accuracy(Y_hat, Y)) == pytest.approx(2 / 3)
    assert model.accuracy(Y_hat, Y, averaged=False).tolist() == [1.0, 0.0, 1.0]
    assert float(model.loss(Y_hat, Y)) == pytest.approx(float(nn.functional.cross_entropy(Y_hat, Y)))


def test_fashion_mnist_module(shared_data, monkeypatch):
    monkeypatch.setenv("DIVEKIT_BOOK_SUBSET", "500")
    data = d2l.FashionMNIST(batch_size=64, resize=(32, 32))
    assert len(data.train) == 500 and len(data.val) == 500
    x, y = data.train[0]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32 and isinstance(y, int)
    X, y = next(iter(data.train_dataloader()))
    assert X.shape == (64, 1, 32, 32) and y.dtype == torch.int64 and 0 <= float(X.min()) <= float(X.max()) <= 1
    assert len(data.val_dataloader()) == 8
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]


def test_time_machine_module_and_alphabetical_vocab(shared_data, monkeypatch):
    monkeypatch.delenv("DIVEKIT_BOOK_SUBSET", raising=False)
    data = d2l.TimeMachine(batch_size=2, num_steps=10)
    assert data.vocab.idx_to_token[:3] == [" ", "<unk>", "a"] and len(data.vocab) == 28
    X, Y = next(iter(data.train_dataloader()))
    assert X.shape == Y.shape == (2, 10) and torch.equal(X[:, 1:], Y[:, :-1])
    monkeypatch.setenv("DIVEKIT_BOOK_SUBSET", "100")
    assert len(data.train_dataloader()) == 50  # quick mode: the first 100 windows


def test_rnn_language_models_train_and_predict(figures):
    torch.manual_seed(0)

    class Chars(d2l.DataModule):
        def __init__(self):
            super().__init__()
            self.batch_size = 8
            tokens = list("abcabcabcabc" * 20)
            self.vocab = d2l.Vocab(tokens, order="alphabetical")
            corpus = torch.tensor(self.vocab[tokens])
            windows = torch.stack([corpus[i:i + 6] for i in range(len(corpus) - 6)])
            self.X, self.Y = windows[:, :-1], windows[:, 1:]

        def get_dataloader(self, train):
            return self.get_tensorloader((self.X, self.Y), train)

    data = Chars()
    rnn = d2l.RNNScratch(num_inputs=len(data.vocab), num_hiddens=16)
    outputs, state = rnn(torch.zeros(5, 3, len(data.vocab)))
    d2l.check_len(outputs, 5)
    d2l.check_shape(state, (3, 16))
    model = d2l.RNNLM(d2l.GRU(len(data.vocab), 16, num_layers=2), vocab_size=len(data.vocab), lr=4)
    d2l.Trainer(max_epochs=15, gradient_clip_val=1).fit(model, data)
    assert model.board.data["val_ppl"][-1].y < 1.5
    assert model.predict("abc", 6, data.vocab) == "abcabcabc"
    scratch = d2l.RNNLMScratch(d2l.RNNScratch(len(data.vocab), 8), len(data.vocab))
    assert scratch(data.X[:4]).shape == (4, 5, len(data.vocab))


def test_download_in_both_signatures(shared_data, tmp_path):
    by_name = d2l.download("time_machine")
    by_url = d2l.download(d2l.DATA_URL + "timemachine.txt", str(tmp_path), "090b5e7e70c295757f55df93cb0a180b9691891a")
    assert by_name == by_url and by_url.endswith("timemachine.txt")
    local = tmp_path / "timemachine.txt"
    local.write_bytes(open(by_name, "rb").read())  # a file the book's own download left in ../data is used
    assert d2l.download(d2l.DATA_URL + "timemachine.txt", str(tmp_path),
                        "090b5e7e70c295757f55df93cb0a180b9691891a") == str(local)


def test_residual_in_both_signatures():
    x = torch.randn(2, 3, 8, 8)
    zh = d2l.Residual(3, 6, use_1x1conv=True, strides=2)  # (input_channels, num_channels, …)
    en = d2l.Residual(6, use_1x1conv=True, strides=2)  # (num_channels, …), input channels found lazily
    en_positional = d2l.Residual(6, True, 2)  # a bool second argument is 1.0's use_1x1conv
    assert zh(x).shape == en(x).shape == en_positional(x).shape == (2, 6, 4, 4)
    assert d2l.Residual(3)(x).shape == d2l.Residual(3, 3)(x).shape == (2, 3, 8, 8)
    assert d2l.ResNeXtBlock(16, 16, 1, use_1x1conv=True, strides=2)(x).shape == (2, 16, 4, 4)


def test_vocab_in_both_orders():
    tokens = [["b", "a", "b", "c"], ["b", "a"]]
    zh = d2l.Vocab(tokens, reserved_tokens=["<pad>"])
    en = d2l.Vocab(tokens, reserved_tokens=["<pad>"], order="alphabetical")
    assert zh.idx_to_token == ["<unk>", "<pad>", "b", "a", "c"] and zh.unk == 0
    assert en.idx_to_token == ["<pad>", "<unk>", "a", "b", "c"] and en.unk == 1
    assert en.to_tokens(torch.tensor([2, 3])) == ["a", "b"] and zh.to_tokens(2) == "b"
    assert zh.token_freqs[0] == ("b", 3) and en["zzz"] == en.unk


def test_attention_blocks():
    X = torch.rand(2, 2, 4)
    weights = d2l.masked_softmax(X, torch.tensor([2, 3]))
    assert torch.allclose(weights[0, :, 2:], torch.zeros(2, 2)) and torch.allclose(weights.sum(-1), torch.ones(2, 2))
    attention = d2l.MultiHeadAttention(num_hiddens=16, num_heads=4, dropout=0.0)
    Q, K = torch.ones(2, 4, 16), torch.ones(2, 6, 16)
    d2l.check_shape(attention(Q, K, K, torch.tensor([3, 2])), (2, 4, 16))
    encoder = d2l.TransformerEncoder(200, 24, 48, 8, 2, 0.5)
    d2l.check_shape(encoder(torch.ones((2, 100), dtype=torch.long), torch.tensor([3, 2])), (2, 100, 24))
    additive = d2l.AdditiveAttention(num_hiddens=8, dropout=0.1)
    out = additive(torch.normal(0, 1, (2, 1, 20)), K, torch.ones(2, 6, 4), torch.tensor([2, 6]))
    d2l.check_shape(out, (2, 1, 4))


def test_seq2seq_encoder_and_bleu():
    encoder = d2l.Seq2SeqEncoder(vocab_size=10, embed_size=8, num_hiddens=16, num_layers=2)
    outputs, state = encoder(torch.zeros((4, 9), dtype=torch.long))
    d2l.check_shape(outputs, (9, 4, 16))
    d2l.check_shape(state, (2, 4, 16))
    assert d2l.bleu("go .", "va !", 2) == 0.0 and d2l.bleu("il est calme .", "il est calme .", 2) == 1.0
    loss = d2l.MaskedSoftmaxCELoss()
    l = loss(torch.ones(3, 4, 10), torch.ones((3, 4), dtype=torch.long), torch.tensor([4, 2, 0]))
    assert l.tolist() == pytest.approx([2.3026, 1.1513, 0.0], abs=1e-4)
    assert d2l.preprocess_nmt("Go.\u202fNow!") == "go . now !"


def test_successive_halving_promotes_the_best():
    class Searcher(d2l.HPOSearcher):
        def __init__(self):
            self.n = 0

        def sample_configuration(self):
            self.n += 1
            return {"learning_rate": self.n / 10}

    scheduler = d2l.SuccessiveHalvingScheduler(Searcher(), eta=2, r_min=1, r_max=4)
    tuner = d2l.HPOTuner(scheduler, objective=lambda learning_rate, max_epochs: abs(learning_rate - 0.2) / max_epochs)
    tuner.run(number_of_trials=7)
    assert scheduler.rung_levels == [1, 2, 4]
    assert tuner.incumbent["learning_rate"] == 0.2 and tuner.incumbent_error == 0.0
    rungs = [(r["config"]["learning_rate"], r["config"]["max_epochs"]) for r in tuner.records]
    assert len(rungs) == 7 and [r[1] for r in rungs] == [1, 1, 1, 1, 2, 2, 4]
    assert (0.2, 2) in rungs[4:6] and rungs[6] == (0.2, 4)  # the best two move up, then the best one
    assert d2l.rbfkernel([0.0, 2.0], [0.0]).ravel().tolist() == pytest.approx([1.0, 0.6065307])  # exp(-4 / 8)


def test_kaggle_house_get_dummies_stays_numeric_under_pandas_3(shared_data):
    """zh's Kaggle notebook calls ``torch.tensor(frame.values, dtype=torch.float32)`` itself."""
    pd = pytest.importorskip("pandas")
    frame = pd.get_dummies(pd.DataFrame({"x": [1.5, 2.0], "kind": ["a", "b"]}), dummy_na=True)
    assert torch.tensor(frame.values, dtype=torch.float32).shape == (2, 4)
    assert pd.get_dummies(pd.Series(["a"]), dtype=bool).dtypes.iloc[0].kind == "b"  # an explicit dtype is kept
    data = d2l.KaggleHouse(batch_size=64)
    data.preprocess()
    X, y = next(iter(data.train_dataloader()))
    assert X.shape[1] == data.train.shape[1] - 1 and y.shape == (64, 1)


def test_trainer_loop_is_not_slower_than_the_books_per_batch_reads(figures, capsys):
    """The board reads a device value once per plotted point: ``Module.plot`` keeps tensors until then."""
    board = d2l.ProgressBoard(display=False)
    values = [torch.tensor(1.0, requires_grad=True) * 2 for _ in range(4)]
    for i, v in enumerate(values):
        board.draw(i, v, "loss", every_n=4)
        assert i == 3 or isinstance(board.raw_points["loss"][-1].y, torch.Tensor)
    assert board.data["loss"][0].y == pytest.approx(2.0) and not re.search("loss", capsys.readouterr().out)
