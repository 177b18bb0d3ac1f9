"""Checksummed downloads into the user cache, built on pooch.

pooch gives timeouts, retries, a tqdm progress bar and an atomic move into place; on top of it we check
the SHA-256 of the decompressed content, so a mirror that recompressed the ``.gz`` is still accepted and a
corrupt or tampered file never is.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

from divekit.data.registry import DatasetSpec, cache_dir, idx_files_in
from divekit.errors import DataError

TIMEOUT_S = 60
RETRIES = 3


def content_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content, decompressed first when it is gzipped."""
    path = Path(path)
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    digest = hashlib.sha256()
    try:
        with (gzip.open(path, "rb") if is_gzip else open(path, "rb")) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: corrupt file ({e})") from None
    return digest.hexdigest()


def download_dataset(spec: DatasetSpec, root: Path | None = None, progress: bool = True) -> dict[str, Path]:
    """Download every file of ``spec`` into ``root/spec.name`` (default: the user cache) and verify it.

    Each mirror is tried in turn; a file is kept only when its checksums match.

    Raises:
        DataError: no mirror answered, or a checksum did not match.
    """
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is a dependency
        raise DataError("downloading needs the 'pooch' package: pip install pooch") from None
    logging.getLogger("pooch").setLevel(logging.WARNING)
    target = (root or cache_dir()) / spec.name
    if not spec.mirrors:
        raise DataError(f"dataset {spec.name!r} has no download URL")
    errors = []
    for mirror in spec.mirrors:
        fetcher = pooch.create(
            path=target, base_url=mirror, retry_if_failed=RETRIES,
            registry={f.name: (f"sha256:{f.sha256}" if f.sha256 else None) for f in spec.files.values()},
        )
        downloader = pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S)
        try:
            for f in spec.files.values():
                path = Path(fetcher.fetch(f.name, downloader=downloader))
                if f.content_sha256 and content_sha256(path) != f.content_sha256:
                    path.unlink()
                    raise DataError(f"{path}: checksum mismatch after download from {mirror}{f.name} "
                                    f"(expected content SHA-256 {f.content_sha256}); the file was removed")
            files = idx_files_in(target)
            if files is not None:
                return files
        except DataError:
            raise
        except Exception as e:  # network errors come in many types (requests, OSError, pooch ValueError)
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if "hash" in msg.lower():
                raise DataError(f"checksum mismatch downloading {spec.name} from {mirror}: {msg}") from None
            errors.append(f"{mirror}: {msg}")
    raise DataError(f"could not download {spec.name!r} into {target}: " + "; ".join(errors)
                    + ". Without internet, copy the four IDX files there or pass --data-dir.")
