"""Pretrained word vectors in the GloVe text format, and an ``nn.Embedding`` initialised from them.

Format: one word per line, ``word v1 v2 ... vD`` separated by single spaces, UTF-8, plain or gzipped (the
gzip magic bytes decide, not the file name). Every line must have the dimension of the first; a line that
does not, or holds a value that is not a number, is an error naming the file and the line number.

Named embeddings (``--embedding NAME``, see ``divekit.data.catalog``) are found like datasets (``--data-dir``,
``$DIVEKIT_DATA``, the user cache, ``/usr/share/datasets``, in their ``glove/`` folders) but never downloaded:
Stanford publishes them only inside one 822 MB zip of every size. Any other value is taken as a path to a
vectors file.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from divekit.data.catalog import of_kind
from divekit.data.sources import locate
from divekit.errors import DataError

EMBEDDINGS = of_kind("vectors")


class TokenEmbedding:
    """Word → vector lookup over pretrained vectors; unknown words get the zero vector.

    Attributes:
        idx_to_token: the words, in file order.
        vectors: ``float32 [V, D]``.
    """

    def __init__(self, tokens: list[str], vectors: torch.Tensor, source: str = "") -> None:
        if len(tokens) != len(vectors):
            raise ValueError(f"{len(tokens)} tokens but {len(vectors)} vectors")
        self.idx_to_token = tokens
        self.token_to_idx = {t: i for i, t in reversed(list(enumerate(tokens)))}  # the first duplicate wins
        self.vectors = vectors
        self.source = source

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens: str | Sequence[str]) -> torch.Tensor:
        """``[D]`` for one word, ``[len(tokens), D]`` for a list; zeros for words not in the file."""
        if isinstance(tokens, str):
            return self[[tokens]][0]
        idx = torch.tensor([self.token_to_idx.get(t, -1) for t in tokens], dtype=torch.int64)
        out = torch.zeros(len(tokens), self.dim, dtype=self.vectors.dtype)
        found = idx >= 0
        out[found] = self.vectors[idx[found]]
        return out

    def matrix_for(self, vocab_tokens: Sequence[str], skip: int = 2) -> tuple[torch.Tensor, float]:
        """Rows for every vocabulary token (zeros where missing) and the coverage: the share of the
        vocabulary after its first ``skip`` reserved tokens (``<pad>``, ``<unk>``) that was found."""
        weights = self[list(vocab_tokens)]
        weights[:skip] = 0
        words = vocab_tokens[skip:]
        found = sum(t in self.token_to_idx for t in words)
        return weights, found / max(len(words), 1)


def _open_text(path: Path) -> io.TextIOBase:
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        raw = gzip.open(path, "rb") if gz else open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: vectors file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


def _bad_line(path: Path, lineno: int, line: str, dim: int) -> DataError:
    parts = line.rstrip("\n").split(" ")
    if not parts[0]:
        return DataError(f"{path}, line {lineno}: expected a word before the {dim} numbers, found a space")
    if len(parts) - 1 != dim:
        return DataError(f"{path}, line {lineno}: expected a word and {dim} numbers (the dimension of line 1), "
                         f"found {len(parts) - 1} values")
    return DataError(f"{path}, line {lineno}: values must be numbers, found {' '.join(parts[1:4])!r}...")


def read_glove(path: str | os.PathLike, max_words: int | None = None) -> TokenEmbedding:
    """Read a GloVe-format vectors file (plain or gzipped).

    Args:
        path: the file.
        max_words: stop after this many lines (the files are sorted by frequency).

    Raises:
        DataError: missing or unreadable file, or a malformed line (with its line number).
    """
    path = Path(path)
    words: list[str] = []
    rows: list[str] = []
    dim = -1
    with _open_text(path) as f:
        try:
            for lineno, line in enumerate(f, 1):
                if max_words is not None and lineno > max_words:
                    break
                word, _, rest = line.rstrip("\n").rstrip("\r").partition(" ")
                if dim < 0:
                    dim = len(rest.split(" ")) if rest else 0
                    if dim < 1:
                        raise DataError(f"{path}, line 1: expected 'word v1 ... vD', found {line[:60]!r}")
                if not rest or rest.count(" ") != dim - 1 or not word:
                    raise _bad_line(path, lineno, line, dim)
                words.append(word)
                rows.append(rest)
        except (UnicodeDecodeError, EOFError, OSError, gzip.BadGzipFile) as e:
            raise DataError(f"{path}: corrupt or not UTF-8 text ({e})") from None
    if not words:
        raise DataError(f"{path}: no vectors in the file")
    try:
        values = np.loadtxt(rows, dtype=np.float32, delimiter=" ", comments=None, ndmin=2)  # C parser
    except ValueError:
        for lineno, rest in enumerate(rows, 1):
            try:
                np.array(rest.split(" "), dtype=np.float32)
            except ValueError:
                raise _bad_line(path, lineno, f"{words[lineno - 1]} {rest}", dim) from None
        raise
    return TokenEmbedding(words, torch.from_numpy(values), str(path))


def find_embedding(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The file for a named embedding (see ``EMBEDDINGS``) or, for any other value, that path.

    Raises:
        ConfigError: ``data_dir`` does not exist.
        DataError: not found, with the places tried.
    """
    if name not in EMBEDDINGS:
        path = Path(name)
        if path.is_file():
            return path
        raise DataError(f"--embedding {name!r}: neither a known name ({', '.join(EMBEDDINGS)}) nor a file")
    if data_dir is not None and Path(data_dir).is_file():
        data_dir = None  # a --data-dir naming the IMDb archive holds no vectors; search the usual places
    try:
        return locate(EMBEDDINGS[name], data_dir, download=False)["vectors"]
    except DataError as e:
        raise DataError(f"--embedding {e}") from None


def load_embedding(name: str, data_dir: str | os.PathLike | None = None) -> TokenEmbedding:
    return read_glove(find_embedding(name, data_dir))


def init_embedding(embedding: nn.Embedding, weights: torch.Tensor, freeze: bool) -> nn.Embedding:
    """Copy pretrained ``weights [V, D]`` into ``embedding`` and freeze it (no gradient) or leave it trainable."""
    if tuple(embedding.weight.shape) != tuple(weights.shape):
        raise DataError(f"pretrained vectors have shape {tuple(weights.shape)} but the model's embedding is "
                        f"{tuple(embedding.weight.shape)}; set embed_size to the vectors' dimension")
    with torch.no_grad():
        embedding.weight.copy_(weights)
    embedding.weight.requires_grad_(not freeze)
    return embedding
