"""Fast tests of ``divekit.d2l``, the book-compatibility helpers (the chapters themselves: test_d2l_book.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from divekit import d2l
from divekit.d2l import hub, vision
from divekit.data import sources
from divekit.data.catalog import SOURCES
from divekit.errors import DataError

pytest_plugins = ["local_http"]  # its fixtures: http_root, no_retries, dead_url


def test_accumulator_sums_and_resets():
    acc = d2l.Accumulator(2)
    acc.add(1, torch.tensor(2.5))
    acc.add(3, 0.5)
    assert (acc[0], acc[1]) == (4.0, 3.0)
    acc.reset()
    assert acc[0] == 0.0
    with pytest.raises(ValueError, match="2 sums got 1"):
        acc.add(1)


def test_timer_records_intervals():
    timer = d2l.Timer()
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert first >= 0 and second >= 0
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)
    assert timer.cumsum() == pytest.approx([first, first + second])


def test_animator_prints_one_line_per_add_and_keeps_png(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    animator = d2l.Animator(xlabel="epoch", legend=["train loss", "test acc"])
    animator.add(0.5, (0.75, None))
    animator.add(1, (0.5, 0.8125))
    animator.close()
    lines = capsys.readouterr().out.splitlines()
    assert "epoch 0.50: train loss 0.75" in lines
    assert "epoch 1: train loss 0.5, test acc 0.8125" in lines
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:4] == b"\x89PNG"
    assert animator.Y == [[0.75, 0.5], [0.8125]]


def test_tensor_aliases_match_torch():
    x = d2l.arange(6, dtype=d2l.float32)
    assert d2l.size(x) == 6
    assert torch.equal(d2l.reshape(x, (2, 3)), x.reshape(2, 3))
    assert torch.equal(d2l.reduce_sum(d2l.reshape(x, (2, 3)), 0), torch.tensor([3.0, 5.0, 7.0]))
    assert d2l.argmax(x).item() == 5
    assert d2l.astype(x, torch.int64).dtype == torch.int64
    mixed = np.array([[1.5, True], [2.0, False]], dtype=object)  # DataFrame.values of floats and dummies
    assert torch.equal(d2l.tensor(mixed, dtype=d2l.float32), torch.tensor([[1.5, 1.0], [2.0, 0.0]]))


def test_stratified_index_keeps_class_proportions():
    labels = torch.tensor([0] * 900 + [1] * 100)
    idx = vision.stratified_index(labels, 200)
    assert len(idx) == 200 and len(set(idx.tolist())) == 200
    assert torch.bincount(labels[idx]).tolist() == [180, 20]
    assert torch.equal(vision.stratified_index(labels, 5000), torch.arange(1000))


def test_book_subset_env_is_validated(monkeypatch):
    monkeypatch.setenv("DIVEKIT_BOOK_SUBSET", "lots")
    with pytest.raises(ValueError, match="DIVEKIT_BOOK_SUBSET"):
        vision.subset_limit()


def test_load_data_fashion_mnist(fmnist, monkeypatch):
    monkeypatch.delenv("DIVEKIT_BOOK_SUBSET", raising=False)
    train, test = d2l.load_data_fashion_mnist(256)
    assert (len(train), len(test)) == (235, 40)
    X, y = next(iter(train))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0 and float(X.max()) > 0.9
    assert X.stride()[1] == 1 and X.is_contiguous(), "channels-last strides (the chapter's NCHW nets run faster)"
    _, y2 = next(iter(train))
    assert not torch.equal(y, y2), "the training set must be reshuffled on each pass"
    assert torch.equal(next(iter(test))[1], next(iter(test))[1])
    train, _ = d2l.load_data_fashion_mnist(32, resize=64)
    assert next(iter(train))[0].shape == (32, 1, 64, 64)


def test_book_subset_caps_fashion_mnist_stratified(fmnist, monkeypatch):
    monkeypatch.setenv("DIVEKIT_BOOK_SUBSET", "1000")
    train, test = d2l.load_data_fashion_mnist(100)
    assert train.num_examples == 1000 and test.num_examples == 1000
    assert torch.bincount(train.labels).tolist() == [100] * 10


def _empty_data(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("DIVEKIT_DATA", str(root))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return root


def test_download_maps_data_hub_names_to_local_files(tmp_path, monkeypatch):
    root = _empty_data(tmp_path, monkeypatch)
    (root / "d2l-misc").mkdir()
    (root / "d2l-misc" / "timemachine.txt").write_text("The Time Machine\n")
    (root / "kaggle-house-prices").mkdir()
    (root / "kaggle-house-prices" / "kaggle_house_pred_train.csv").write_text("Id,SalePrice\n1,2\n")
    assert d2l.download("time_machine") == str(root / "d2l-misc" / "timemachine.txt")
    assert d2l.download("kaggle_house_train").endswith("kaggle-house-prices/kaggle_house_pred_train.csv")
    assert list(Path.cwd().iterdir()) == []
    with pytest.raises(DataError, match="not in DATA_HUB"):
        d2l.download("no_such_data")


def test_known_files_are_checked_by_sha256_not_the_books_sha1(tmp_path, monkeypatch, http_root, no_retries,
                                                               dead_url):
    _empty_data(tmp_path, monkeypatch)
    www, url = http_root
    fake = b"not the time machine"
    (www / "timemachine.txt").write_bytes(fake)
    monkeypatch.setitem(d2l.DATA_HUB, "time_machine", (url + "timemachine.txt", hashlib.sha1(fake).hexdigest()))
    monkeypatch.setitem(SOURCES, "time-machine", replace(SOURCES["time-machine"], mirrors=(dead_url,)))
    with pytest.raises(DataError, match="checksum mismatch.*SHA-256"):
        d2l.download("time_machine")  # the entry's SHA-1 fits, but the file is not the published one
    assert not (sources.cache_dir() / "d2l-misc" / "timemachine.txt").exists()


def test_download_lands_in_the_cache_never_cwd(tmp_path, monkeypatch, http_root, shared_data):
    real = shared_data / "d2l-misc" / "airfoil_self_noise.dat"
    if not real.is_file():
        pytest.skip(f"{real} not found")
    _empty_data(tmp_path, monkeypatch)
    www, url = http_root
    (www / real.name).write_bytes(real.read_bytes())
    monkeypatch.setitem(d2l.DATA_HUB, "airfoil", (url + real.name, d2l.DATA_HUB["airfoil"][1]))
    path = Path(d2l.download("airfoil"))
    assert path == sources.cache_dir() / "d2l-misc" / real.name and path.read_bytes() == real.read_bytes()
    assert list(Path.cwd().iterdir()) == []
    assert d2l.download("airfoil") == str(path)  # found in the cache: no second download


def test_the_books_own_entries_are_found_and_checked_by_their_sha1(tmp_path, monkeypatch, http_root, no_retries):
    _empty_data(tmp_path, monkeypatch)
    www, url = http_root
    (www / "extra.zip").write_bytes(b"zip bytes")
    monkeypatch.setitem(d2l.DATA_HUB, "book-extra", (url + "extra.zip", hashlib.sha1(b"zip bytes").hexdigest()))
    assert d2l.download("book-extra") == str(sources.cache_dir() / "d2l" / "extra.zip")
    target = tmp_path / "book-data"
    assert d2l.download("book-extra", str(target)) == str(target / "extra.zip")  # the book's cache_dir argument
    (www / "ptb.zip").write_bytes(b"other bytes")
    monkeypatch.setitem(d2l.DATA_HUB, "ptb", (url + "ptb.zip", hashlib.sha1(b"zip bytes").hexdigest()))
    with pytest.raises(DataError, match="checksum mismatch.*SHA-1"):
        d2l.download("ptb")
    assert not (sources.cache_dir() / "d2l" / "ptb.zip").exists()


def test_unavailable_dataset_says_how_to_get_it(tmp_path, monkeypatch, no_retries, dead_url):
    _empty_data(tmp_path, monkeypatch)
    monkeypatch.setitem(d2l.DATA_HUB, "time_machine", (dead_url + "timemachine.txt", d2l.DATA_HUB["time_machine"][1]))
    monkeypatch.setitem(SOURCES, "time-machine", replace(SOURCES["time-machine"], mirrors=(dead_url,)))
    with pytest.raises(DataError) as err:
        d2l.download("time_machine")
    message = str(err.value)
    assert "\n" not in message and "$DIVEKIT_DATA/d2l-misc/" in message and "timemachine.txt" in message
    assert list(Path.cwd().iterdir()) == []


def test_vocab_has_the_books_indices():
    vocab = d2l.Vocab([["b", "a", "b"], ["c", "b", "a"]], min_freq=2, reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "b", "a"]
    assert vocab["a"] == 3 and vocab[["b", "zzz"]] == [2, 0] and vocab.unk == 0
    assert vocab.token_freqs[0] == ("b", 3)
    assert d2l.truncate_pad([1, 2, 3], 5, 0) == [1, 2, 3, 0, 0] and d2l.truncate_pad([1, 2, 3], 2, 0) == [1, 2]


def test_token_embedding_falls_back_to_50d(tmp_path, monkeypatch, capsys):
    root = _empty_data(tmp_path, monkeypatch)
    (root / "glove").mkdir()
    rows = ["the " + " ".join(["0.5"] * 50), "movie " + " ".join(["-1"] * 50)]
    (root / "glove" / "glove.6B.50d.txt").write_text("\n".join(rows) + "\n")
    emb = d2l.TokenEmbedding("glove.6b.100d")
    assert "glove.6b.50d" in capsys.readouterr().out
    vecs = emb[["movie", "unknown-word"]]
    assert vecs.shape == (2, 100)
    assert torch.equal(vecs[0, :50], torch.full((50,), -1.0)) and not vecs[0, 50:].any() and not vecs[1].any()
    assert len(d2l.TokenEmbedding("glove.6b.50d")) == 3 and d2l.TokenEmbedding("glove.6b.50d")[["the"]].shape == (1, 50)


class _Fixed(nn.Module):
    """Predicts class 0 for every example."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.stack([torch.ones(len(x)), torch.zeros(len(x))], 1) + self.w


def test_accuracy_and_evaluate_accuracy():
    assert d2l.accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == 1.0
    y = torch.tensor([0, 0, 1, 0, 1, 0, 0, 0])  # 6 of 8 are class 0
    data_iter = d2l.load_array((torch.zeros(8, 3), y), 3, is_train=False)
    assert d2l.evaluate_accuracy(_Fixed(), data_iter) == pytest.approx(0.75)
    assert d2l.evaluate_accuracy_gpu(_Fixed(), data_iter) == pytest.approx(0.75)


def _blobs(n: int = 400, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, 1, 4, 4, generator=g) * 0.3 + (y.float() * 2 - 1)[:, None, None, None]
    return X, y


def test_train_ch3_prints_one_line_per_epoch(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    torch.manual_seed(0)
    X, y = _blobs()
    train_iter = d2l.load_array((X, y), 32)
    test_iter = d2l.load_array(_blobs(seed=1), 32, is_train=False)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    d2l.train_ch3(net, train_iter, test_iter, nn.CrossEntropyLoss(reduction="none"), 2,
                  torch.optim.SGD(net.parameters(), lr=0.1))
    out = capsys.readouterr().out
    pattern = r"^epoch {}: train loss [\d.e-]+, train acc [\d.]+, test acc [\d.]+$"
    assert re.search(pattern.format(1), out, re.M) and re.search(pattern.format(2), out, re.M)


def test_train_ch6_reinitialises_and_prints_the_books_lines(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    for p in net.parameters():
        nn.init.constant_(p, 0.25)
    loader = d2l.load_array(_blobs(), 50)
    d2l.train_ch6(net, loader, d2l.load_array(_blobs(seed=1), 50, is_train=False), 1, 0.0, torch.device("cpu"))
    bound = (6 / (8 + 2)) ** 0.5  # Xavier-uniform limit of the linear layer
    assert not torch.all(net[3].weight == 0.25) and float(net[3].weight.detach().abs().max()) <= bound
    out = capsys.readouterr().out
    assert out.startswith("training on cpu\n")
    assert re.search(r"^loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$", out, re.M)
    assert re.search(r"^\d+\.\d examples/sec on cpu$", out, re.M)


def test_train_ch6_takes_the_steps_of_torch_optim_sgd(capsys, tmp_path, monkeypatch):
    """``train_ch6`` steps with divekit's SGD: the weights after two epochs equal, bit for bit, those of the
    book's loop with ``torch.optim.SGD`` from the same initialisation."""
    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    batches = list(d2l.load_array(_blobs(), 50, is_train=False))

    def fresh_net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))

    ours = fresh_net()
    torch.manual_seed(1)
    d2l.train_ch6(ours, batches, batches, 2, 0.3, torch.device("cpu"))
    book = fresh_net()
    torch.manual_seed(1)
    book.apply(d2l.init_cnn)
    optimizer = torch.optim.SGD(book.parameters(), lr=0.3)
    for _ in range(2):
        for X, y in batches:
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(book(X), y).backward()
            optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), book.parameters(), strict=True))


def test_pandas_keeps_object_dtype_for_text_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert list(frame.dtypes[frame.dtypes != "object"].index) == ["a"]


def test_local_candidates_follow_the_shared_layout(monkeypatch, tmp_path):
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path))
    paths = hub.local_candidates("aclImdb")
    assert paths[0] == tmp_path / "aclImdb" / "aclImdb_train_test.tar.gz"
    assert hub.local_candidates("glove.6b.50d")[0] == tmp_path / "glove" / "glove.6B.50d.top100k.txt.gz"


def test_one_epoch_animator_draws_without_a_singular_limits_warning(tmp_path, monkeypatch):
    """The book's ``xlim=[1, num_epochs]`` with one epoch is a zero-width range: the axis fits the data instead of
    matplotlib warning (and widening it) on every redraw; the en ``ProgressBoard`` likewise."""
    import warnings

    monkeypatch.setenv("DIVEKIT_FIGURES", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        animator = d2l.Animator(xlabel="epoch", xlim=[1, 1], legend=["train loss"])
        animator.add(1, (0.5,))
        animator.close()
        d2l.plot([1], [[0.5]], xlim=[1, 1], ylim=[0.5, 0.5])
        board = d2l.ProgressBoard(xlabel="epoch", xlim=[0, 0])
        board.draw(0, 0.5, "loss")
        board.live.flush()
    assert animator.axes[0].get_xlim()[0] < 1 < animator.axes[0].get_xlim()[1]
    assert board.axes.get_xlim()[0] < 0 < board.axes.get_xlim()[1]
