"""Reader for the IDX format of MNIST-style datasets (raw or gzipped).

Layout: two zero bytes, a dtype code, the number of dimensions ``d``; then ``d`` big-endian uint32 sizes;
then the values, big-endian, in C order. The reader checks every one of these and that the file holds
exactly the declared number of bytes, and raises ``DataError`` naming the file otherwise. The payload is
never read before its declared size has been checked against ``max_bytes``, so a hostile header cannot make
it allocate gigabytes.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from divekit.errors import DataError

# IDX dtype code -> numpy dtype (big-endian where it matters)
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_DIMS = 4
DEFAULT_MAX_BYTES = 1 << 31  # 2 GiB: far above any IDX dataset, far below a hostile header's claim


def _open(path: Path):
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if is_gzip else open(path, "rb")


def _read_exact(f, n: int, path: Path, what: str, chunk: int = 1 << 24) -> bytes:
    # f.read(n) reserves n bytes up front: a 10-byte file declaring 2 GB would ask for 2 GB (MemoryError
    # under a memory limit). Reading in bounded chunks allocates only what the file really holds.
    parts, got = [], 0
    while got < n:
        part = f.read(min(chunk, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    data = b"".join(parts)
    if len(data) != n:
        raise DataError(f"{path}: truncated IDX file: expected {n} bytes of {what}, found {len(data)}")
    return data


def read_idx(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a numpy array with the file's shape and native byte order.

    Args:
        path: the file.
        max_bytes: refuse files whose header declares a larger payload.

    Raises:
        DataError: missing, truncated, corrupt or oversized file; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path.resolve()}: IDX file not found")
    try:
        with _open(path) as f:
            header = _read_exact(f, 4, path, "header")
            zero, code, ndim = struct.unpack(">HBB", header)
            if zero != 0 or code not in IDX_DTYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number 0x{header.hex()})")
            if not 1 <= ndim <= MAX_DIMS:
                raise DataError(f"{path}: IDX header declares {ndim} dimensions, expected 1 to {MAX_DIMS}")
            dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "dimensions"))
            dtype = IDX_DTYPES[code]
            size = math.prod(dims) * dtype.itemsize  # Python ints: no overflow on hostile headers
            if size > max_bytes:
                raise DataError(f"{path}: IDX header declares {size} bytes of data (shape {dims}), "
                                f"more than the limit of {max_bytes}")
            payload = _read_exact(f, size, path, f"data for shape {dims}")
            if f.read(1):
                raise DataError(f"{path}: IDX file has trailing bytes after the {size} declared by shape {dims}")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: corrupt or unreadable file ({e})") from None
    # a writable, native-endian copy: torch tensors made from it may be modified in place
    return np.frombuffer(payload, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(dims)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when the name ends in ``.gz`` or ``compress`` is true)."""
    from divekit.runs import atomic_write

    path = Path(path)
    array = np.ascontiguousarray(array)
    codes = {v.newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"{path}: cannot write dtype {array.dtype} as IDX")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        body = gzip.compress(body, compresslevel=6, mtime=0)
    return atomic_write(path, lambda f: f.write(body))
