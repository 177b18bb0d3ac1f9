"""Tiny HTML builders for self-contained reports: every text escaped, every image inlined as base64 PNG.

No templates and no network: a report is one file that opens anywhere, offline. Each builder returns a
string of HTML; ``page`` wraps sections into a document whose inline script checks, after load, that
every image decoded (``document.body.dataset.imagesOk``), which the browser test reads back.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:1em 2em;
color:#1d2330;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #d8dce5;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#5b6475;margin-top:0}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #d8dce5;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.diff td{background:#fff4d6}tr.diff td:first-child{font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:.8em 0}
.card{border:1px solid #d8dce5;border-radius:8px;padding:.6em 1em;min-width:9em}
.card .v{font-size:1.5em;font-weight:600}.card .k{color:#5b6475;font-size:.85em}
.cols{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
img{max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:.6em}
.grid figure{margin:0;text-align:center;font-size:.78em;width:7.2em}
.grid img{image-rendering:pixelated;width:84px;height:84px;border:1px solid #d8dce5}
.bad{color:#b3261e}.good{color:#1e7b34}
.bar{display:inline-block;height:.8em;background:#4c78a8;vertical-align:middle}
footer{color:#8a93a5;font-size:.8em;margin-top:3em}
"""

# Runs after load: record whether every <img> decoded, so a headless browser can check the page.
CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.dataset.images = String(imgs.length);
  document.body.dataset.imagesBroken = String(broken.length);
  document.body.dataset.imagesOk = broken.length === 0 ? 'true' : 'false';
});
"""


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """A number rounded for reading (``0.8731``, ``1.2e-05``); anything else as text. Not escaped."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}" if value and (abs(value) < 1e-3 or abs(value) >= 1e5) else f"{value:.{digits}f}"
    if isinstance(value, (list, tuple, dict)):
        import json

        return json.dumps(value, default=str)
    return str(value)


def img(png: bytes, alt: str, width: int | None = None, cls: str = "") -> str:
    """An ``<img>`` holding ``png`` as a data URI (the report then needs no other file)."""
    data = base64.b64encode(png).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    klass = f' class="{esc(cls)}"' if cls else ""
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}"{size}{klass}>'


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], row_classes: Sequence[str] | None = None) -> str:
    """A ``<table>``; numeric cells are right-aligned, every cell escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td class="num">{esc(fmt(c))}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f"<td>{esc(fmt(c))}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(items: dict[str, Any]) -> str:
    """A two-column table of ``key | value``."""
    return table(("key", "value"), items.items())


def cards(items: dict[str, str]) -> str:
    """Big numbers with a caption, e.g. ``{"test accuracy": "0.8731"}``."""
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in items.items()) + "</div>"


def section(title: str, *parts: str, anchor: str = "") -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def para(text: str, cls: str = "") -> str:
    klass = f' class="{esc(cls)}"' if cls else ""
    return f"<p{klass}>{esc(text)}</p>"


def page(title: str, subtitle: str, sections: Iterable[str], footer: str = "") -> str:
    """A complete HTML document: inline CSS, the sections, and the image check script."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>"
            f"<h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p>\n"
            + "\n".join(sections)
            + f"<footer>{esc(footer)}</footer><script>{CHECK_SCRIPT}</script></body></html>\n")
