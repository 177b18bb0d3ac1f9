"""The report in a real browser: headless Chromium loads ``report.html`` of a real run, every image decodes,
the final accuracy is on the page, and a screenshot is kept as ``artifacts/report.png``.

Run with ``make test-browser`` (installs the Debian package ``chromium`` when missing). Chromium is driven
directly: ``--dump-dom`` returns the page after its inline script has recorded, on ``<body>``, how many
images there are and whether all decoded (natural width > 0).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed and could not be installed here "
                    "('make test-browser' runs apt-get install -y chromium)")
    return found


def browse(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """``divekit train --data fashion-mnist-mini --epochs 1 --threads 1``, which also writes report.html."""
    root = tmp_path_factory.mktemp("runs")
    cmd = [sys.executable, "-m", "divekit", "train", "--data", "fashion-mnist-mini", "--epochs", "1", "--threads",
           "1", "--runs-dir", str(root), "--name", "browser"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning" not in done.stderr, done.stderr[-2000:]
    return root / "browser"


def test_report_renders_in_chromium(real_run, tmp_path):
    exe = chromium()
    page = real_run / "report.html"
    dom = browse(exe, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, f"no <body> in chromium's DOM dump: {dom[:500]!r}"
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("images-ok") == "true", attrs  # every <img> decoded with natural width > 0
    assert int(attrs["images"]) >= 5 and attrs["images-broken"] == "0"
    acc = json.loads((real_run / "summary.json").read_text())["final"]["test_acc"]
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    assert f"{acc:.4f}" in text and "test accuracy" in text

    shot = REPO / "artifacts" / "report.png"
    shot.parent.mkdir(exist_ok=True)
    done = browse(exe, tmp_path / "profile2", "--virtual-time-budget=10000", f"--screenshot={shot}",
                  "--window-size=1280,2200", page.as_uri())
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", done.stderr[-1000:]
