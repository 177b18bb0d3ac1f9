"""IDX reader: good files round-trip; every kind of bad file raises DataError naming the file."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divekit.data import idx as idx_module
from divekit.data.idx import prefetch_idx, read_idx, write_idx
from divekit.data.images import read_split
from divekit.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    p = write_idx(tmp_path / f"x-idx3{suffix}", a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable


def _header(code=0x08, dims=(2, 3)):
    return struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("content,needle", [
    (b"", "truncated"),
    (b"\x00\x00", "truncated"),
    (b"\x01\x02\x08\x01" + b"\x00" * 8, "magic"),
    (struct.pack(">HBB", 0, 0x42, 1) + b"\x00" * 8, "magic"),
    (struct.pack(">HBB", 0, 0x08, 0), "dimensions"),
    (struct.pack(">HBB", 0, 0x08, 9), "dimensions"),
    (_header(dims=(2, 3)) + b"\x00" * 5, "truncated"),
    (_header(dims=(2, 3)) + b"\x00" * 7, "trailing"),
    (_header(dims=(60000, 28)), "truncated"),
])
def test_bad_files_name_the_file(tmp_path, content, needle):
    p = tmp_path / "bad-idx"
    p.write_bytes(content)
    with pytest.raises(DataError) as e:
        read_idx(p)
    assert str(p) in str(e.value) and needle in str(e.value)


def test_huge_declared_size_refused_without_allocating(tmp_path):
    p = tmp_path / "huge.gz"
    p.write_bytes(gzip.compress(_header(code=0x0E, dims=(65535, 65535, 65535))))
    with pytest.raises(DataError, match="limit"):
        read_idx(p)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(_header() + bytes(6))
    p = tmp_path / "corrupt.gz"
    p.write_bytes(good[:12] + b"\xff" * 10 + good[22:])
    with pytest.raises(DataError, match="corrupt|truncated"):
        read_idx(p)
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError):
        read_idx(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope.gz")


def test_images_labels_count_mismatch(tmp_path):
    images = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 4, 4), np.uint8))
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="3 images but .* 2 labels"):
        read_split(images, labels)


def test_real_fashion_mnist_header(fmnist):
    import hashlib

    labels = read_idx(fmnist / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and np.bincount(labels).tolist() == [1000] * 10
    raw = gzip.open(fmnist / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read()
    assert hashlib.md5(raw).hexdigest() == "15d484375f8d13e6eb1aabb0c3f46965"  # upstream value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), gz=st.booleans())
def test_fuzz_random_bytes_only_raise_data_error(tmp_path, data, gz):
    p = tmp_path / "fuzz"
    p.write_bytes(gzip.compress(data) if gz else data)
    try:
        out = read_idx(p)
    except DataError as e:
        assert str(p) in str(e)
    else:
        assert isinstance(out, np.ndarray)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from([8, 9, 11, 12, 13, 14]), dims=st.lists(st.integers(0, 2**32 - 1), min_size=1,
       max_size=4), tail=st.binary(max_size=64))
def test_fuzz_plausible_headers(tmp_path, code, dims, tail):
    p = tmp_path / "fuzz2"
    p.write_bytes(struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + tail)
    try:
        out = read_idx(p)
    except DataError:
        pass
    else:
        assert out.shape == tuple(dims)


def test_an_empty_shape_with_huge_other_dimensions_is_a_clear_error(tmp_path):
    """Found by the fuzz test: numpy cannot even make an empty array of shape (0, 2**32 - 1, 2**32 - 1)."""
    p = tmp_path / "empty-huge"
    p.write_bytes(struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(DataError, match="empty-huge.*empty, but"):
        read_idx(p)


def test_prefetched_files_read_the_same_once_and_changed_files_are_read_again(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    pa, pb, bad = tmp_path / "a.gz", tmp_path / "b", tmp_path / "bad"
    write_idx(pa, a)
    write_idx(pb, a[:1])
    bad.write_bytes(_header() + b"\x00")  # truncated
    prefetch_idx([pa, pb, bad, tmp_path / "missing"])
    assert len(idx_module._PREFETCHED) == 3  # a missing file is left to the real read
    got = read_idx(pa)
    assert np.array_equal(got, a) and got.flags.writeable
    write_idx(pb, a)  # changed since it was read ahead: read again
    assert np.array_equal(read_idx(pb), a)
    with pytest.raises(DataError, match="bad: truncated"):
        read_idx(bad)  # the read-ahead's error, as if read now
    assert not idx_module._PREFETCHED
    assert np.array_equal(read_idx(pa), a)  # taken once; later reads read the file


def test_train_command_reads_the_data_ahead(monkeypatch, tmp_path):
    """`divekit.train` starts reading the image files before importing torch's training stack."""
    from divekit import api

    monkeypatch.setattr(idx_module, "_PREFETCHED", {})
    api._prefetch(api.config(data="fashion-mnist-mini"))
    assert len(idx_module._PREFETCHED) == 4
    for future in list(idx_module._PREFETCHED.values()):
        assert future.result().dtype == np.uint8
    api._prefetch(api.config(data=str(tmp_path / "nowhere")))  # no error


@pytest.mark.parametrize("extra,ok", [(b"", True), (b"\0" * 7, True), (b"junk", False)])
def test_gzip_members_padding_and_junk_after_the_stream(tmp_path, extra, ok):
    """Read as ``gzip`` reads: several members are one stream, zeros after it are padding, anything else is
    an error naming the file."""
    a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    body = _header(0x08, (3, 4, 5)) + a.tobytes()
    p = tmp_path / "multi.gz"
    p.write_bytes(gzip.compress(body[:20]) + gzip.compress(body[20:]) + extra)
    if ok:
        assert np.array_equal(read_idx(p), a)
    else:
        with pytest.raises(DataError, match="multi.gz: corrupt"):
            read_idx(p)
