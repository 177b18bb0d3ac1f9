"""Property-based fuzzing of the IDX reader on mutations of the real bundled files, and its memory bound.

``tests/test_idx.py`` fuzzes random bytes and plausible headers; this campaign starts from the real
``fashion-mnist-mini`` files (raw and gzipped) and truncates, overwrites and extends them, and measures that a
header declaring a huge payload never makes the reader allocate it. Contract: an array of the declared shape,
or one ``DataError`` line naming the file. ``DIVEKIT_FUZZ_EXAMPLES`` raises the number of examples.
"""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.data.idx import read_idx
from divekit.errors import DataError

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MINI = Path(__file__).resolve().parents[1] / "divekit" / "data" / "mini"


class Blob(bytes):
    def __repr__(self) -> str:  # keep Hypothesis' failure reports readable
        return f"<{len(self)} bytes>"


@pytest.fixture(scope="module")
def labels() -> Blob:
    """The raw (decompressed) bundled test labels: 1,000 bytes of payload behind an 8-byte header."""
    return Blob(gzip.decompress((MINI / "t10k-labels-idx1-ubyte.gz").read_bytes()))


def attempt(path: Path):
    try:
        return read_idx(path)
    except DataError as e:
        assert str(path) in str(e) and "\n" not in str(e), str(e)
        return None


@FUZZ
@given(data=st.data(), gz=st.booleans())
def test_real_file_truncated_overwritten_or_extended(tmp_path, labels, data, gz):
    content = bytearray(labels)
    action = data.draw(st.sampled_from(["truncate", "overwrite", "extend"]))
    if action == "truncate":
        content = content[:data.draw(st.integers(0, len(content) - 1))]
    elif action == "overwrite":
        for _ in range(data.draw(st.integers(1, 3))):
            content[data.draw(st.integers(0, 11))] = data.draw(st.integers(0, 255))  # header bytes
    else:
        content += data.draw(st.binary(min_size=1, max_size=16))
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(bytes(content)) if gz else bytes(content))
    out = attempt(path)
    if action != "overwrite":
        assert out is None
    elif out is not None:
        header = struct.unpack(">HBB", bytes(content[:4]))
        dims = struct.unpack(f">{header[2]}I", bytes(content[4:4 + 4 * header[2]]))
        assert out.shape == dims


@FUZZ
@given(cut=st.integers(0, 200), gz_bytes=st.binary(max_size=8))
def test_damaged_gzip_stream(tmp_path, labels, cut, gz_bytes):
    packed = gzip.compress(bytes(labels))
    path = tmp_path / "labels.gz"
    path.write_bytes(packed[:cut] + gz_bytes)
    assert attempt(path) is None


@FUZZ
@given(dims=st.lists(st.integers(1, 2**32 - 1), min_size=1, max_size=4), code=st.sampled_from([0x08, 0x0D, 0x0E]),
       gz=st.booleans())
def test_huge_declared_payload_is_never_allocated(tmp_path, dims, code, gz):
    header = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    path = tmp_path / "huge"
    path.write_bytes(gzip.compress(header + b"\x00" * 64) if gz else header + b"\x00" * 64)
    tracemalloc.start()
    try:
        out = attempt(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out is None or out.nbytes <= 64
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MiB allocated for a {path.stat().st_size}-byte file"


def test_the_bundled_files_still_read(labels, tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(labels)
    out = read_idx(path)
    assert out.shape == (1000,) and np.bincount(out).tolist() == [100] * 10
