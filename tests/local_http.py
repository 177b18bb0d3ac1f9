"""A web server on 127.0.0.1 for download tests: downloads are tested against it, never the internet."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest


@pytest.fixture
def http_root(tmp_path):
    """``(folder, base URL)``: files written into the folder are served under the URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture
def no_retries(monkeypatch):
    """A failing mirror fails at once instead of after pooch's retries."""
    from divekit.data import download

    monkeypatch.setattr(download, "RETRIES", 0)


@pytest.fixture
def dead_url() -> str:
    """A mirror that fails: nothing listens on the discard port."""
    return "http://127.0.0.1:9/"
