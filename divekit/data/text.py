"""Text to tensors: tokenisation, a vocabulary, fixed-length id tensors and a loader over them.

Tokenisation rules (``tokenize``):

- HTML line breaks (``<br />``, common in IMDb reviews) become spaces; text is lower-cased by default
  (GloVe 6B vectors are lower-case);
- ``level="word"``: a word is a run of letters and digits, with inner apostrophes kept (``o'brien``,
  ``rock'n'roll``), except that the English clitics ``n't 's 'm 'd 'll 're 've`` ending a word are split off
  as in the Penn Treebank convention GloVe was trained on (``don't`` → ``do n't``, ``it's`` → ``it 's``);
  every other non-space character (``. , ! ? ( ) - "`` …) is a token of its own with
  ``punctuation="split"`` (GloVe has vectors for them, and ``!`` carries sentiment), or is dropped with
  ``punctuation="drop"``; the underscore counts as neither and is dropped;
- ``level="char"``: every character, spaces included, is a token (punctuation is never dropped).

The vocabulary reserves ``<pad>`` at index 0 (so zero-filled tensors are padding and ``nn.Embedding``'s
``padding_idx=0`` keeps its vector at zero) and ``<unk>`` at index 1, onto which every token outside the
vocabulary is mapped. It is saved as JSON next to the model so that new text is encoded exactly as the
training text was.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divekit.errors import CheckpointError, ConfigError

PAD, UNK = "<pad>", "<unk>"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_W = r"[^\W_]"  # a letter or digit
_WORD_PUNCT = re.compile(rf"{_W}+(?:'{_W}+)*|[^\w\s]")
_WORD_ONLY = re.compile(rf"{_W}+(?:'{_W}+)*")
_CLITIC = re.compile(rf"(?<={_W})(?i:n't|'(?:s|m|d|ll|re|ve))$")  # at the end of a word, after a letter or digit


def _check_options(level: str, punctuation: str) -> None:
    if level not in ("word", "char"):
        raise ConfigError(f"tokenizer level must be 'word' or 'char', got {level!r}")
    if punctuation not in ("split", "drop"):
        raise ConfigError(f"punctuation must be 'split' or 'drop', got {punctuation!r}")


def tokenize(text: str, level: str = "word", lower: bool = True, punctuation: str = "split") -> list[str]:
    """Split ``text`` into tokens by the rules in the module docstring.

    >>> tokenize("Great movie!<br />Don't miss it.")
    ['great', 'movie', '!', 'do', "n't", 'miss', 'it', '.']
    """
    _check_options(level, punctuation)
    text = _BR.sub(" ", text)
    if lower:
        text = text.lower()
    if level == "char":
        return list(text)
    tokens = (_WORD_PUNCT if punctuation == "split" else _WORD_ONLY).findall(text)
    if "'" not in text:
        return tokens
    out = []
    for token in tokens:
        m = _CLITIC.search(token) if "'" in token else None
        if m:
            out += (token[:m.start()], token[m.start():])
        else:
            out.append(token)
    return out


class Vocab:
    """Token ↔ index mapping built from token counts.

    Indices: the reserved tokens first (``<pad>`` = 0, ``<unk>`` = 1, then any extra ones), then every
    token seen at least ``min_freq`` times, most frequent first (ties alphabetical, so the same counts
    always give the same vocabulary), up to ``max_size`` entries in all.
    """

    def __init__(self, counts: Counter | dict[str, int] | None = None, min_freq: int = 1,
                 reserved: Sequence[str] = (PAD, UNK), max_size: int | None = None) -> None:
        if list(reserved[:2]) != [PAD, UNK]:
            raise ConfigError(f"reserved tokens must start with {PAD!r}, {UNK!r}; got {list(reserved)}")
        if min_freq < 1:
            raise ConfigError(f"min_freq must be ≥ 1, got {min_freq}")
        kept = sorted(((t, c) for t, c in (counts or {}).items() if c >= min_freq and t not in reserved),
                      key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            kept = kept[:max(0, max_size - len(reserved))]
        self.idx_to_token: list[str] = list(reserved) + [t for t, _ in kept]
        self.token_to_idx: dict[str, int] = {t: i for i, t in enumerate(self.idx_to_token)}
        self.reserved = tuple(reserved)
        self.min_freq = min_freq

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, **kwargs: Any) -> Vocab:
        """Count the tokens of every list in ``token_lists`` and build the vocabulary."""
        return cls(Counter(t for tokens in token_lists for t in tokens), min_freq, **kwargs)

    @classmethod
    def from_texts(cls, texts: Sequence[str], min_freq: int = 1, level: str = "word", lower: bool = True,
                   punctuation: str = "split", **kwargs: Any) -> Vocab:
        """Tokenise raw ``texts`` (see ``tokenize``) and build the vocabulary from the token counts."""
        return cls(count_tokens(texts, level, lower, punctuation), min_freq, **kwargs)

    pad_id = 0
    unk_id = 1

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def __getitem__(self, token: str) -> int:
        """The index of ``token``; ``<unk>``'s index (1) for anything unknown."""
        return self.token_to_idx.get(token, 1)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token list → index list (unknown tokens → 1)."""
        get = self.token_to_idx.get
        return [get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Index list → token list (raises IndexError for an index outside the vocabulary)."""
        return [self.idx_to_token[int(i)] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "divekit-vocab-1", "min_freq": self.min_freq, "reserved": list(self.reserved),
                "tokens": self.idx_to_token}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "vocab") -> Vocab:
        """Rebuild exactly the saved index order (no re-sorting)."""
        tokens = d.get("tokens") if isinstance(d, dict) else None
        reserved = d.get("reserved", [PAD, UNK]) if isinstance(d, dict) else None
        if (not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)
                or tokens[:len(reserved)] != reserved or len(set(tokens)) != len(tokens)):
            raise CheckpointError(f"{source}: expected {{'tokens': [unique strings starting with "
                                  f"{PAD!r}, {UNK!r}, ...]}}")
        min_freq = d.get("min_freq", 1)
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise CheckpointError(f"{source}: min_freq should be a whole number ≥ 1, found {min_freq!r}")
        vocab = cls(None, min_freq, reserved)
        vocab.idx_to_token = list(tokens)
        vocab.token_to_idx = {t: i for i, t in enumerate(tokens)}
        return vocab

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON (atomically)."""
        from divekit.runs import write_text

        return write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: vocabulary file not found")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def pad_truncate(id_lists: Sequence[Sequence[int]], max_len: int, pad_id: int = 0) -> torch.Tensor:
    """Stack index lists into ``int64 [N, max_len]``: the first ``max_len`` ids of each, then ``pad_id``.

    Keeping the start matches the book's ``truncate_pad``; padding goes on the right, so the real length
    of a row is the number of non-pad entries and models can mask (or pack) the tail.
    """
    if max_len < 1:
        raise ConfigError(f"max_len must be ≥ 1, got {max_len}")
    out = np.full((len(id_lists), max_len), pad_id, dtype=np.int64)
    for row, ids in zip(out, id_lists, strict=True):
        n = min(len(ids), max_len)
        row[:n] = ids[:n]
    return torch.from_numpy(out)


# --- Corpus encoding -----------------------------------------------------------------------------------
# Each text is tokenised once. ASCII texts (nearly all of IMDb) are tokenised with numpy on bytes and one
# ``bytes.split`` instead of a regex match per token (about half the CPU); the byte classes come from the
# very regexes ``tokenize`` uses and the tests check both paths agree. Other texts take ``tokenize``.
# Tokens become ids through two dicts (bytes tokens from the fast path, str from the other); -1 marks the
# end of each text in the flat id array of a chunk.
_CHUNK = 2000
WORD, SPACE, PUNCT, APOS = 0, 1, 2, 3


@lru_cache(maxsize=1)
def _ascii_classes() -> np.ndarray:
    classes = np.empty(128, np.uint8)
    for i in range(128):
        c = chr(i)
        classes[i] = (APOS if c == "'" else WORD if re.fullmatch(_W, c) else
                      PUNCT if re.fullmatch(r"[^\w\s]", c) else SPACE)
    classes[0] = PUNCT  # NUL ends each text of a chunk (texts holding a NUL take the regex path)
    return classes


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``b[j] = a[j + k]`` (zero/False where ``j + k`` falls outside)."""
    out = np.zeros_like(a)
    if k > 0:
        out[:-k] = a[k:]
    else:
        out[-k:] = a[:k]
    return out


def _clitic_starts(low: np.ndarray, word: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Where a word-final clitic starts (``_CLITIC`` in bytes): the ``'`` of ``'s 'm 'd 'll 're 've``, the ``n``
    of ``n't`` after a letter or digit. ``low`` is the text with ASCII letters lower-cased (``byte | 0x20``)."""
    wordish = word | inner
    end = wordish & ~_shift(wordish, 1)  # last character of a word
    c1, c2 = _shift(low, 1), _shift(low, 2)
    one = ((c1 == ord("s")) | (c1 == ord("m")) | (c1 == ord("d"))) & _shift(end, 1)
    two = (((c1 == ord("l")) & (c2 == ord("l"))) | ((c1 == ord("r")) & (c2 == ord("e")))
           | ((c1 == ord("v")) & (c2 == ord("e")))) & _shift(end, 2)
    nt = inner & (c1 == ord("t")) & _shift(end, 1) & (_shift(low, -1) == ord("n")) & _shift(word, -2)
    return (inner & (one | two)) | _shift(nt, 1)


def _ascii_tokens(texts: Sequence[str], lower: bool, punctuation: str) -> list[bytes]:
    """Tokens of ASCII ``texts`` as one flat list of bytes, each text's tokens followed by ``b"\\0"``."""
    joined = _BR.sub(" ", "\0".join(texts)) + "\0"
    data = np.frombuffer((joined.lower() if lower else joined).encode("ascii"), np.uint8)
    cls = _ascii_classes()[data]
    word, apos = cls == WORD, cls == APOS
    inner = np.zeros_like(apos)  # an apostrophe between two word characters belongs to the word
    inner[1:-1] = apos[1:-1] & word[:-2] & word[2:]
    punct = (cls == PUNCT) | (apos & ~inner)
    if punctuation == "drop":
        punct &= data == 0
    keep = word | inner | punct
    brk = _clitic_starts(data | 0x20, word, inner)
    extra = np.cumsum(2 * punct.view(np.uint8) + brk, dtype=np.int64)  # spaces around punctuation, before clitics
    pos = np.arange(len(data), dtype=np.int64) + extra - punct
    out = np.full(len(data) + int(extra[-1]), ord(" "), np.uint8)
    out[pos[keep]] = data[keep]
    return out.tobytes().split()


class _Ids(dict):
    """Token → id. Unknown tokens get 1 (``<unk>``), or with a ``counter`` the next number it gives."""

    def __init__(self, items: Iterable[tuple[Any, int]] = (), counter: Iterator[int] | None = None) -> None:
        super().__init__(items)
        self.counter = counter

    def __missing__(self, key: Any) -> int:
        if self.counter is None:
            return 1
        self[key] = n = next(self.counter)
        return n


def _lookups(tokens: Sequence[str] | None) -> tuple[_Ids, _Ids]:
    """(bytes → id, str → id) for a fixed vocabulary, or (``None``) handing out ids as tokens are first seen.
    ``b"\\0"`` → -1 goes last so that a NUL token of the vocabulary (from a regex-path text) cannot hide it."""
    if tokens is None:
        counter = itertools.count()
        return _Ids([(b"\0", -1)], counter), _Ids((), counter)
    return (_Ids([*((t.encode("utf-8"), i) for i, t in enumerate(tokens)), (b"\0", -1)]),
            _Ids((t, i) for i, t in enumerate(tokens)))


def _provisional(lookups: tuple[_Ids, _Ids]) -> Iterator[tuple[str, int]]:
    """(token, id) of every entry but the end-of-text marker."""
    yield from lookups[1].items()
    yield from ((key.decode("ascii"), i) for key, i in lookups[0].items() if i >= 0)


def _id_chunks(texts: Sequence[str], lookup: tuple[_Ids, _Ids], level: str, lower: bool,
               punctuation: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per chunk: (indices of its texts, their ids as one flat array with -1 after each text)."""
    _check_options(level, punctuation)
    get_bytes, get_str = lookup[0].__getitem__, lookup[1].__getitem__
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start:start + _CHUNK]
        fast = [i for i, t in enumerate(chunk) if level == "word" and t.isascii() and "\0" not in t]
        if fast:
            tokens = _ascii_tokens([chunk[i] for i in fast], lower, punctuation)
            yield start + np.asarray(fast), np.fromiter(map(get_bytes, tokens), np.int64, count=len(tokens))
        slow = sorted(set(range(len(chunk))) - set(fast))
        if slow:
            flat = [i for j in slow for i in (*map(get_str, tokenize(chunk[j], level, lower, punctuation)), -1)]
            yield start + np.asarray(slow), np.asarray(flat, dtype=np.int64)


def _rows(flat: np.ndarray, max_len: int) -> np.ndarray:
    """Ids of several texts, each ended by -1 → ``int64 [n_texts, max_len]``, truncated and zero-padded."""
    ends = np.flatnonzero(flat < 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    cols = np.arange(max_len)
    mask = cols < np.minimum(ends - starts, max_len)[:, None]
    rows = np.zeros((len(ends), max_len), dtype=np.int64)
    rows[mask] = flat[(starts[:, None] + cols)[mask]]
    return rows


def _assemble(parts: list[tuple[np.ndarray, np.ndarray]], n: int, max_len: int) -> torch.Tensor:
    if max_len < 1:
        raise ConfigError(f"max_len must be ≥ 1, got {max_len}")
    out = np.zeros((n, max_len), dtype=np.int64)
    for idx, flat in parts:
        out[idx] = _rows(flat, max_len)
    return torch.from_numpy(out)


def encode_texts(texts: Sequence[str], vocab: Vocab, max_len: int, level: str = "word", lower: bool = True,
                 punctuation: str = "split") -> torch.Tensor:
    """Raw texts → ``int64 [N, max_len]`` ids with ``vocab`` (tokenise, index, keep the first ``max_len``,
    pad with ``<pad>`` = 0); the same as ``pad_truncate([vocab.encode(tokenize(t)) for t in texts])``."""
    lookup = _lookups(vocab.idx_to_token)
    return _assemble(list(_id_chunks(texts, lookup, level, lower, punctuation)), len(texts), max_len)


def _count(texts: Sequence[str], level: str, lower: bool, punctuation: str):
    """Tokenise once with growing ids: (token counts, the lookup, the id chunks)."""
    lookup = _lookups(None)
    parts = list(_id_chunks(texts, lookup, level, lower, punctuation))
    n_ids = len(lookup[0]) + len(lookup[1])
    by_id = np.bincount(np.concatenate([f[f >= 0] for _, f in parts] or [np.zeros(0, np.int64)]), minlength=n_ids)
    counts: Counter = Counter()
    for token, i in _provisional(lookup):
        counts[token] += int(by_id[i])  # a token seen on both paths has two ids
    return counts, lookup, parts


def count_tokens(texts: Sequence[str], level: str = "word", lower: bool = True,
                 punctuation: str = "split") -> Counter:
    """Token counts over ``texts``, exactly as ``tokenize`` would give them."""
    return _count(texts, level, lower, punctuation)[0]


def fit_encode(texts: Sequence[str], max_len: int, min_freq: int = 1, max_size: int | None = None,
               level: str = "word", lower: bool = True, punctuation: str = "split") -> tuple[Vocab, torch.Tensor]:
    """Build the vocabulary of ``texts`` and encode them, tokenising each text only once.

    Returns:
        ``(vocab, ids int64 [N, max_len])``, equal to ``Vocab.from_texts`` followed by ``encode_texts``.
    """
    counts, lookup, parts = _count(texts, level, lower, punctuation)
    vocab = Vocab(counts, min_freq, max_size=max_size)
    remap = np.ones(len(lookup[0]) + len(lookup[1]) + 1, dtype=np.int64)  # provisional → final id
    for token, i in _provisional(lookup):
        remap[i] = vocab[token]
    remap[-1] = -1  # so that the end-of-text marker -1 maps to itself
    return vocab, _assemble([(idx, remap[flat]) for idx, flat in parts], len(texts), max_len)


class TokenLoader:
    """Batches ``(ids int64 [B, T], labels int64 [B])``: ``TensorLoader``'s interface (``len``, ``set_epoch``,
    iteration) without its float conversion. Epoch ``e`` is seeded with ``seed * 1_000_003 + e``.

    ``bucket=True`` puts texts of similar length together and cuts each batch to its longest text, so little
    time goes into padding (~2× faster on IMDb at ``max_len=500``): shuffled, the permutation is cut into pools
    of 50 batches, each sorted by length and split, and the batches shuffled; unshuffled, the order is by
    length (fine for evaluation, which does not depend on order).
    """

    def __init__(self, ids: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, device: str | torch.device = "cpu", bucket: bool = False) -> None:
        if ids.dtype != torch.int64 or ids.ndim != 2:
            raise ValueError(f"ids must be an int64 [N, T] tensor, got {ids.dtype} {tuple(ids.shape)}")
        if len(ids) != len(labels):
            raise ValueError(f"ids ({len(ids)}) and labels ({len(labels)}) differ in length")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.device = torch.device(device)
        self.ids, self.labels = ids.to(self.device), labels.to(self.device)
        self.lengths = (ids != 0).sum(1)
        self.batch_size, self.shuffle, self.seed, self.bucket = batch_size, shuffle, seed, bucket
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[torch.Tensor]:
        """The example indices of each batch of the current epoch."""
        n, bs = len(self.labels), self.batch_size
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True) if self.bucket else torch.arange(n)
            return list(order.split(bs))
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(n, generator=gen)
        if not self.bucket:
            return list(order.split(bs))
        pools = [p[torch.argsort(self.lengths[p], stable=True)] for p in order.split(50 * bs)]
        batches = [b for p in pools for b in p.split(bs)]
        return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self.batches()
        # the epoch's indices go to the device in one copy: on a GPU a copy per batch makes the host wait for
        # the device every step (the lengths stay on the host, so cutting a bucket waits for nothing)
        moved = torch.cat(batches).to(self.device).split([len(b) for b in batches]) if batches else ()
        for idx, on_device in zip(batches, moved, strict=True):
            x = self.ids.index_select(0, on_device)
            if self.bucket:
                x = x[:, :max(int(self.lengths[idx].max()), 1)]
            yield x, self.labels.index_select(0, on_device)
