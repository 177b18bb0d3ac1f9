"""One verified download: a file fetched from the first mirror that answers, and kept only when it checks out.

pooch does the transfer: a timeout, retries, a tqdm progress bar, and a download into a temporary file that
is moved into place only after its hash matched, so a half-written or wrong file never lands under the
final name. On top of that, gzipped files may be checked by the SHA-256 of their decompressed content, so
a mirror that recompressed the ``.gz`` is still accepted while a corrupt or tampered file never is.

This module knows nothing about datasets; ``divekit.data.sources`` says what to fetch and from where.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from divekit.errors import DataError

TIMEOUT_S = 60
RETRIES = 3


class Checks(Protocol):
    """What a file is checked against (``divekit.data.sources.RemoteFile`` has these fields)."""

    sha256: str | None  # of the file as published
    content_sha256: str | None  # of its decompressed content
    sha1: str | None  # used only without a SHA-256: the book's DATA_HUB entries carry SHA-1


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


def _content_ok(path: Path, expected: str) -> bool:
    try:
        return content_sha256(path) == expected
    except DataError:  # a truncated .gz
        return False


def _known_hash(sha256: str | None, sha1: str | None) -> str | None:
    if sha256:
        return f"sha256:{sha256}"
    return f"sha1:{sha1}" if sha1 else None


def _reason(error: Exception, sha256: str | None, sha1: str | None) -> str:
    """One clause for a failed attempt; pooch reports a hash mismatch as a ValueError naming the hash."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, ValueError) and "hash" in text.lower():
        expected = f"SHA-256 {sha256}" if sha256 else f"SHA-1 {sha1}"
        return f"checksum mismatch (expected {expected}); the download was discarded"
    import requests  # pooch's own HTTP library: its errors carry urllib3's long chains, summed up here

    if isinstance(error, requests.Timeout):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(error, requests.ConnectionError):
        if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return "host not found (no internet connection, or no DNS)"
        return "cannot connect (no internet connection, a proxy or firewall, or the server is down)"
    return text


def _fetch_one(pooch, url: str, dest: Path, known_hash: str | None, progress: bool) -> Path:
    fetcher = pooch.create(path=dest.parent, base_url="", registry={dest.name: known_hash},
                           urls={dest.name: url}, retry_if_failed=RETRIES)
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S)
    return Path(fetcher.fetch(dest.name, downloader=downloader))


def fetch(urls: Sequence[str], dest: Path, checks: Checks, progress: bool = True) -> Path:
    """Download ``dest`` from the first of ``urls`` that serves a file passing ``checks``.

    A file already at ``dest`` that passes them is kept without a download.

    Raises:
        DataError: every URL failed or served a file that did not check out; each reason is listed.
    """
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is a dependency
        raise DataError("downloading needs the 'pooch' package: pip install pooch") from None
    pooch.get_logger().setLevel(logging.WARNING)  # its INFO lines repeat what our line and the progress bar say
    known_hash = _known_hash(checks.sha256, checks.sha1)
    if checks.content_sha256 and dest.is_file() and not _content_ok(dest, checks.content_sha256):
        dest.unlink()  # pooch checks only the published hash; a stale file would be kept without one
    errors = []
    for url in urls:
        if progress:
            print(f"downloading {url} → {dest}", file=sys.stderr, flush=True)
        try:
            path = _fetch_one(pooch, url, dest, known_hash, progress)
        except Exception as e:  # network errors come in many types (requests, OSError, pooch's ValueError)
            errors.append(f"{url}: {_reason(e, checks.sha256, checks.sha1)}")
            continue
        if checks.content_sha256 and not _content_ok(path, checks.content_sha256):
            path.unlink()
            errors.append(f"{url}: checksum mismatch (expected content SHA-256 {checks.content_sha256}); "
                          f"the file was removed")
            continue
        return path
    raise DataError(f"could not download {dest.name} into {dest.parent}: " + "; ".join(errors))
