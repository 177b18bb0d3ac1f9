"""Property-based fuzzing of the data readers other than IDX: CSV (``tabular.read_csv``), tar archives
(``safetar``, ``imdb.read_imdb``), GloVe vectors (``glove.read_glove``) and the JSON side files saved with
text and tabular runs (``text.Vocab.load``, ``tabular.TabularTransform.load``).

Contract: whatever the file holds, the reader returns a value or raises ``DataError`` (``CheckpointError`` for
the vocabulary) with one line naming the file; an archive member that would land outside the extraction
folder is refused and nothing is written. ``DIVEKIT_FUZZ_EXAMPLES`` raises the number of examples.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.errors import CheckpointError, DataError

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused_cleanly(error: Exception, path) -> None:
    assert str(path) in str(error) and "\n" not in str(error), str(error)


def attempt(reader, path, errors=(DataError,)):
    try:
        return reader(path)
    except errors as e:
        refused_cleanly(e, path)
        return None


# ---------------------------------------------------------------- CSV

csv_text = st.lists(st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=6), max_size=5),
                    max_size=6).map(lambda rows: "\n".join(",".join(r) for r in rows))
csv_noise = st.lists(st.sampled_from(['"', ",", "\n", "\r", "\x00", "NA", "1e999", "-0", " ", "a", "1.5", "\ufeff"]),
                     max_size=40).map("".join)


@FUZZ
@given(text=csv_text | csv_noise, raw=st.binary(max_size=120), use_raw=st.booleans())
def test_read_csv(tmp_path, text, raw, use_raw):
    from divekit.data.tabular import read_csv

    path = tmp_path / "data.csv"
    path.write_bytes(raw if use_raw else text.encode("utf-8"))
    table = attempt(read_csv, path)
    if table is not None:
        assert table.rows and all(len(r) == len(table.header) for r in table.rows)


# ---------------------------------------------------------------- tar archives

NAMES = ["aclImdb/train/pos/1_9.txt", "aclImdb/test/neg/2_1.txt", "../evil.txt", "/abs/evil.txt",
         "aclImdb/../../evil.txt", "./aclImdb/train/neg/3_2.txt", "a\\..\\evil.txt", "C:evil.txt", "ok/x.txt"]
member = st.tuples(st.sampled_from(NAMES) | st.text(max_size=12),
                   st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                    tarfile.FIFOTYPE, tarfile.CHRTYPE]),
                   st.sampled_from(["", "../../etc/passwd", "/etc/passwd", "aclImdb", "x/../../y"]),
                   st.binary(max_size=20) | st.sampled_from([b"great film", "caf\u00e9".encode(), b"\xff\xfe"]))


def build_tar(members, compress: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, link, data in members:
            info = tarfile.TarInfo(name or "x")
            info.type, info.linkname = kind, link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def escapes(name: str, kind: bytes, link: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")
            or kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) and (link.startswith("/") or ".." in link.split("/")))


@FUZZ
@given(members=st.lists(member, max_size=5), compress=st.booleans(), cut=st.none() | st.integers(0, 2000))
def test_read_imdb_on_crafted_archives(tmp_path, members, compress, cut):
    from divekit.data.imdb import read_imdb

    data = build_tar(members, compress)
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(data if cut is None else data[:cut])
    out = attempt(read_imdb, path)
    if out is not None:  # accepted: then no member may have pointed outside the archive
        assert cut is None or cut >= len(data)
        assert not any(escapes(n, k, link) for n, k, link, _ in members)


@FUZZ
@given(members=st.lists(member, min_size=1, max_size=4, unique_by=lambda m: m[0] or "x"))
def test_safe_extract_never_writes_outside(members):
    import tempfile
    from pathlib import Path

    from divekit.data.safetar import safe_extract

    with tempfile.TemporaryDirectory() as tmp:  # a fresh folder per example: no links left by an earlier one
        root = Path(tmp)
        path = root / "a.tar"
        path.write_bytes(build_tar(members, compress=False))
        target = root / "out"
        before = set(root.rglob("*"))
        attempt(lambda p: safe_extract(p, target), path)
        written = set(root.rglob("*")) - before
        assert all(target in p.parents or p == target for p in written), written


@FUZZ
@given(data=st.binary(max_size=300))
def test_read_imdb_on_random_bytes(tmp_path, data):
    from divekit.data.imdb import read_imdb

    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(data)
    assert attempt(read_imdb, path) is None


# ---------------------------------------------------------------- GloVe

# min_size=1: a line with a word and no value at all is the pending case below
glove_line = st.tuples(st.text(st.characters(blacklist_categories=["Cs"]), max_size=5),
                       st.lists(st.sampled_from(["0.1", "-2", "1e5", "nan", "inf", "x", "", "1e999", "0x1"]),
                                min_size=1, max_size=4)).map(lambda t: " ".join([t[0], *t[1]]))


@FUZZ
@given(lines=st.lists(glove_line, max_size=6), raw=st.binary(max_size=100), mode=st.sampled_from(["text", "raw", "gz"]))
def test_read_glove(tmp_path, lines, raw, mode):
    from divekit.data.glove import read_glove

    text = "\n".join(lines).encode("utf-8")
    path = tmp_path / "vectors.txt"
    path.write_bytes({"text": text, "raw": raw, "gz": gzip.compress(text)[: max(len(raw), 10)]}[mode])
    emb = attempt(read_glove, path)
    if emb is not None:
        assert len(emb.idx_to_token if hasattr(emb, "idx_to_token") else emb.vectors) > 0


def test_glove_line_with_a_word_and_no_values(tmp_path):
    from divekit.data.glove import read_glove

    path = tmp_path / "vectors.txt"
    path.write_text("the 0.1\nof\n")  # found by the campaign: ValueError "2 tokens but 1 vectors"
    attempt(read_glove, path)


# ---------------------------------------------------------------- JSON side files

json_doc = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=10)


@FUZZ
@given(doc=json_doc, tokens=st.lists(st.text(max_size=4), max_size=5), min_freq=st.integers(1, 5),
       raw=st.binary(max_size=60), which=st.sampled_from(["doc", "vocab-like", "raw"]))
def test_vocab_load(tmp_path, doc, tokens, min_freq, raw, which):
    import json

    from divekit.data.text import Vocab

    path = tmp_path / "vocab.json"
    content = {"doc": json.dumps(doc).encode(), "raw": raw,
               "vocab-like": json.dumps({"tokens": ["<pad>", "<unk>", *tokens], "min_freq": min_freq}).encode()}
    path.write_bytes(content[which])
    attempt(Vocab.load, path, (CheckpointError, DataError))


@pytest.mark.parametrize("min_freq", ["", None, False, "x", [1]])
def test_vocab_with_a_malformed_min_freq(tmp_path, min_freq):
    import json

    from divekit.data.text import Vocab

    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"tokens": ["<pad>", "<unk>", "a"], "min_freq": min_freq}))
    attempt(Vocab.load, path, (CheckpointError, DataError))


@FUZZ
@given(doc=json_doc, raw=st.binary(max_size=60), use_raw=st.booleans())
def test_tabular_transform_load(tmp_path, doc, raw, use_raw):
    import json

    from divekit.data.tabular import TabularTransform

    path = tmp_path / "transform.json"
    path.write_bytes(raw if use_raw else json.dumps(
        {"format": "divekit-tabular-transform/1", "numeric": doc, "categorical": []}).encode())
    attempt(TabularTransform.load, path)


@pytest.mark.parametrize("reader", ["csv", "glove", "vocab", "transform", "imdb"])
def test_a_folder_where_a_file_should_be(tmp_path, reader):
    from divekit.data.glove import read_glove
    from divekit.data.imdb import read_imdb
    from divekit.data.tabular import TabularTransform, read_csv
    from divekit.data.text import Vocab

    fn = {"csv": read_csv, "glove": read_glove, "vocab": Vocab.load, "transform": TabularTransform.load,
          "imdb": read_imdb}[reader]
    folder = tmp_path / "folder"
    folder.mkdir()
    attempt(fn, folder, (CheckpointError, DataError))
