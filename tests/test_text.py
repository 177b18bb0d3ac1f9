"""Tokenisation, vocabulary, padding/truncation, the fast corpus encoder and the token loader."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from divekit.data.text import (
    PAD,
    UNK,
    TokenLoader,
    Vocab,
    count_tokens,
    encode_texts,
    fit_encode,
    pad_truncate,
    tokenize,
)
from divekit.errors import CheckpointError, ConfigError

REVIEWS = [
    "A great movie!<br /><br />I didn't expect it; it's the director's best.",
    "Terrible. Just terrible... I'd rather watch paint dry -- 1/10",
    "Café au lait, naïve plot… but Amélie's charm won't fade.",  # non-ASCII: the regex path
    "'Twas fine. The 'special' effects weren't; rock'n'roll O'Brien can't've",
    "",
    "great great great movie",
]


def tokenize_all(texts):
    return [tokenize(t) for t in texts]


# --- tokenisation -----------------------------------------------------------------------------------------

def test_word_tokens_lowercase_breaks_punctuation_and_clitics():
    assert tokenize("Great movie!<br />Don't miss it.") == ["great", "movie", "!", "do", "n't", "miss", "it", "."]
    assert tokenize("It's the director's cut, isn't it?") == [
        "it", "'s", "the", "director", "'s", "cut", ",", "is", "n't", "it", "?"]
    assert tokenize("rock'n'roll O'Brien 'quoted'") == ["rock'n'roll", "o'brien", "'", "quoted", "'"]
    assert tokenize("snake_case  tabs\tand\nlines") == ["snake", "case", "tabs", "and", "lines"]


def test_options_keep_case_drop_punctuation_and_chars():
    assert tokenize("Hi, Bob!", lower=False) == ["Hi", ",", "Bob", "!"]
    assert tokenize("Hi, Bob! It's", punctuation="drop") == ["hi", "bob", "it", "'s"]
    assert tokenize("Ab c<br/>", level="char") == ["a", "b", " ", "c", " "]
    with pytest.raises(ConfigError, match="level"):
        tokenize("x", level="sentence")
    with pytest.raises(ConfigError, match="punctuation"):
        tokenize("x", punctuation="keep")


# The fast corpus path (numpy on bytes) must agree with ``tokenize`` on any text; the alphabet is chosen to
# hit every rule: clitic letters, apostrophes, underscores, odd whitespace, <br />, NUL and non-ASCII.
ALPHABET = "ants'dlmrevNTSx _.-<>/b\t\x1c\x00é…"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=25), min_size=1, max_size=4), st.booleans(),
       st.sampled_from(["split", "drop"]))
def test_fast_corpus_path_equals_tokenize(texts, lower, punctuation):
    counts = count_tokens(texts, lower=lower, punctuation=punctuation)
    reference = [tokenize(t, lower=lower, punctuation=punctuation) for t in texts]
    assert counts == sum((Counter(r) for r in reference), start=Counter())
    vocab = Vocab(counts)
    ids = encode_texts(texts, vocab, 8, lower=lower, punctuation=punctuation)
    assert torch.equal(ids, pad_truncate([vocab.encode(r) for r in reference], 8))


def test_fit_encode_equals_vocab_then_encode():
    texts = REVIEWS * 3
    vocab, ids = fit_encode(texts, max_len=12, min_freq=2)
    reference = Vocab.build(tokenize_all(texts), min_freq=2)
    assert vocab.idx_to_token == reference.idx_to_token
    assert torch.equal(ids, pad_truncate([reference.encode(t) for t in tokenize_all(texts)], 12))
    assert torch.equal(encode_texts(texts, vocab, 12), ids)
    char_vocab, char_ids = fit_encode(texts, 30, level="char")
    assert char_vocab.decode(char_ids[0, :7].tolist()) == list("a great")


# --- vocabulary ------------------------------------------------------------------------------------------

def test_vocab_reserved_indices_order_and_unknowns():
    vocab = Vocab.build([["b", "a", "b", "c"], ["a", "b", "rare"]], min_freq=2)
    assert vocab.idx_to_token == [PAD, UNK, "b", "a"]  # most frequent first, ties alphabetical
    assert (vocab[PAD], vocab[UNK], vocab.pad_id, vocab.unk_id) == (0, 1, 0, 1)
    assert vocab.encode(["a", "rare", "never-seen", "b"]) == [3, 1, 1, 2]
    assert vocab.decode([2, 3, 1, 0]) == ["b", "a", UNK, PAD]
    assert "c" not in vocab and len(vocab) == 4
    assert Vocab.build([["x", "y", "z"]], max_size=3).idx_to_token == [PAD, UNK, "x"]
    with pytest.raises(ConfigError, match="min_freq"):
        Vocab({"a": 1}, min_freq=0)


def test_vocab_json_round_trip_keeps_the_exact_mapping(tmp_path):
    vocab = Vocab.build(tokenize_all(REVIEWS))
    path = vocab.save(tmp_path / "vocab.json")
    again = Vocab.load(path)
    assert again.idx_to_token == vocab.idx_to_token and again.token_to_idx == vocab.token_to_idx
    assert json.loads(path.read_text(encoding="utf-8"))["tokens"][:2] == [PAD, UNK]
    text = "Amélie's charm: great, not terrible!"
    assert encode_texts([text], again, 10).tolist() == encode_texts([text], vocab, 10).tolist()


def test_vocab_load_refuses_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Vocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Vocab.load(tmp_path / "bad.json")
    (tmp_path / "dup.json").write_text(json.dumps({"tokens": [PAD, UNK, "a", "a"]}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="unique strings"):
        Vocab.load(tmp_path / "dup.json")
    (tmp_path / "order.json").write_text(json.dumps({"tokens": [UNK, PAD, "a"]}), encoding="utf-8")
    with pytest.raises(CheckpointError):
        Vocab.load(tmp_path / "order.json")


# --- padding, truncation, loader -------------------------------------------------------------------------

def test_pad_truncate_keeps_the_start_and_pads_with_zero():
    out = pad_truncate([[5, 6, 7, 8], [9], []], 3)
    assert out.dtype == torch.int64 and out.tolist() == [[5, 6, 7], [9, 0, 0], [0, 0, 0]]
    with pytest.raises(ConfigError, match="max_len"):
        pad_truncate([[1]], 0)
    vocab, ids = fit_encode(["one two three four", "five"], max_len=2)
    assert vocab.decode(ids[0].tolist()) == ["one", "two"] and ids[1, 1] == 0


def test_token_loader_batches_shuffles_reproducibly_and_buckets():
    ids = pad_truncate([[2] * n for n in range(1, 41)], 50)
    labels = torch.arange(40) % 2
    plain = TokenLoader(ids, labels, 16)
    batches = list(plain)
    assert len(plain) == len(batches) == 3 and batches[0][0].shape == (16, 50) and batches[2][0].shape == (8, 50)
    assert batches[0][0].dtype == torch.int64 and torch.equal(batches[0][1], labels[:16])
    shuffled = TokenLoader(ids, labels, 16, shuffle=True, seed=3, bucket=True)
    shuffled.set_epoch(1)
    first = [(x.clone(), y.clone()) for x, y in shuffled]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, list(shuffled), strict=True))  # replayable
    seen = torch.cat([(x != 0).sum(1) for x, _ in first])
    assert sorted(seen.tolist()) == list(range(1, 41))  # every review once
    assert all(x.shape[1] == int((x != 0).sum(1).max()) for x, _ in first)  # cut to the longest in the batch
    shuffled.set_epoch(2)
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(first, list(shuffled), strict=False))
    with pytest.raises(ValueError, match="int64"):
        TokenLoader(ids.float(), labels, 4)


@pytest.mark.parametrize("bucket", [False, True])
def test_token_loader_moves_an_epochs_indices_in_one_copy(bucket, device_moves):
    """On a GPU a host-to-device copy per batch makes the host wait for the device every step."""
    ids = pad_truncate([[2] * (n % 37 + 1) for n in range(200)], 40)
    loader = TokenLoader(ids, torch.arange(200) % 2, 16, shuffle=True, seed=1, bucket=bucket)
    expected = [(ids[idx][:, :int((ids[idx] != 0).sum(1).max())] if bucket else ids[idx], idx % 2)
                for idx in loader.batches()]
    device_moves.clear()  # making the loader moved its tensors once
    batches = list(loader)
    assert len(batches) == 13 and len(device_moves) == 1
    assert all(torch.equal(x, ex) and torch.equal(y, ey) for (x, y), (ex, ey) in zip(batches, expected, strict=True))
