"""GloVe text-format reader (plain and gzipped, good and malformed lines), lookup, embedding initialisation."""

from __future__ import annotations

import gzip

import pytest
import torch
from torch import nn

from divekit.data.glove import find_embedding, init_embedding, read_glove
from divekit.data.text import PAD, UNK
from divekit.errors import ConfigError, DataError

GOOD = "the 0.1 0.2 0.3\n, -1 0 1e-2\ngood 1.5 -2.5 3.25\nthe 9 9 9\n"


def write(path, text: str, gz: bool = False):
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_reads_plain_and_gzipped_files(tmp_path, gz):
    emb = read_glove(write(tmp_path / "vectors.txt", GOOD, gz))  # the name says .txt; the bytes decide
    assert len(emb) == 4 and emb.dim == 3 and emb.vectors.dtype == torch.float32
    assert torch.equal(emb["good"], torch.tensor([1.5, -2.5, 3.25]))
    assert torch.equal(emb["the"], torch.tensor([0.1, 0.2, 0.3]))  # the first of duplicate words wins
    assert torch.equal(emb[","], torch.tensor([-1.0, 0.0, 0.01]))
    lookup = emb[["good", "never-seen", "the"]]
    assert lookup.shape == (3, 3) and torch.equal(lookup[1], torch.zeros(3))  # unknown → zero vector
    assert len(read_glove(tmp_path / "vectors.txt", max_words=2)) == 2


@pytest.mark.parametrize("text, line, what", [
    ("a 1 2 3\nb 1 2\nc 1 2 3\n", 2, "found 2 values"),
    ("a 1 2 3\nb 1 2 3\nc 1 2 3 4\n", 3, "found 4 values"),
    ("a 1 2 3\nb 1 x 3\n", 2, "must be numbers"),
    ("a 1 2 3\n 1 2 3\n", 2, "expected a word"),
    ("a\n", 1, "expected 'word v1 ... vD'"),
])
def test_malformed_lines_name_file_and_line(tmp_path, text, line, what):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataError) as e:
        read_glove(path)
    message = str(e.value)
    assert f"{path}, line {line}:" in message and what in message and "\n" not in message


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_glove(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="no vectors"):
        read_glove(write(tmp_path / "empty.txt", ""))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00garbage 1 2\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_glove(tmp_path / "bin.txt")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(GOOD.encode())[:-12])
    with pytest.raises(DataError, match="corrupt"):
        read_glove(tmp_path / "cut.gz")


def test_matrix_coverage_and_embedding_init(tmp_path):
    emb = read_glove(write(tmp_path / "v.txt", GOOD))
    weights, coverage = emb.matrix_for([PAD, UNK, "good", "the", "unseen", "also-unseen"])
    assert coverage == 0.5  # 2 of the 4 words after <pad>, <unk>
    assert torch.equal(weights[0], torch.zeros(3)) and torch.equal(weights[1], torch.zeros(3))
    assert torch.equal(weights[2], emb["good"]) and torch.equal(weights[4], torch.zeros(3))
    layer = init_embedding(nn.Embedding(6, 3, padding_idx=0), weights, freeze=True)
    assert torch.equal(layer.weight, weights) and not layer.weight.requires_grad
    assert init_embedding(nn.Embedding(6, 3), weights, freeze=False).weight.requires_grad
    with pytest.raises(DataError, match="embed_size"):
        init_embedding(nn.Embedding(6, 4), weights, freeze=True)


def test_named_embedding_lookup(tmp_path, monkeypatch):
    (tmp_path / "glove").mkdir()
    path = write(tmp_path / "glove" / "glove.6B.50d.top100k.txt.gz", GOOD, gz=True)
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path))
    assert find_embedding("glove-50d") == path
    assert find_embedding(str(path)) == path
    with pytest.raises(DataError, match="neither a known name"):
        find_embedding("word2vec")
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(b"")
    assert find_embedding("glove-50d", archive) == path  # a --data-dir naming the IMDb archive holds no vectors
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="--embedding glove-100d: not found .*glove.6B.zip"):
        find_embedding("glove-100d")
    with pytest.raises(ConfigError, match="no such folder"):
        find_embedding("glove-50d", tmp_path / "nope")


def test_real_glove_50d_head(shared_data):
    path = shared_data / "glove" / "glove.6B.50d.top100k.txt.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    emb = read_glove(path, max_words=2000)
    assert emb.dim == 50 and emb.idx_to_token[:3] == ["the", ",", "."]
    assert emb["the"][0].item() == pytest.approx(0.418) and "n't" in emb.token_to_idx
