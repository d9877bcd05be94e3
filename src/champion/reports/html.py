"""Shared HTML page shell for self-contained reports (inline CSS, inline SVG, no JS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

STYLE = """
body{font-family:system-ui,-apple-system,sans-serif;margin:2rem auto;max-width:1150px;
color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#666;font-size:.9rem}
.verdict{padding:.8rem 1rem;border-radius:6px;font-size:1.05rem;margin:1rem 0}
.verdict.bad{background:#fdecea;border-left:5px solid #d62728}
.verdict.good{background:#edf7ed;border-left:5px solid #54a24b}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #eee;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td:first-child{border-left:4px solid #d62728}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:1rem}
.card{border:1px solid #eee;border-radius:6px;padding:.6rem}
.card h3{font-size:1rem;margin:.2rem 0}.card p{margin:.2rem 0;font-size:.85rem;color:#444}
.tag{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.75rem;color:#fff}
.tag.bad{background:#d62728}.tag.good{background:#54a24b}
"""


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], row_classes: Sequence[str] = ()
) -> str:
    """An HTML table; cells are escaped, numeric-looking cells right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f" class='{row_classes[i]}'" if i < len(row_classes) and row_classes[i] else ""
        cells = "".join(
            f"<td class='num'>{escape(c)}</td>" if _numeric(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _numeric(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def page(title: str, sections: Sequence[str], subtitle: str = "") -> str:
    """A complete HTML document with the shared style."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = escape(subtitle + (" · " if subtitle else "") + f"generated {stamp} by champion")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='meta'>{meta}</p>" + "".join(sections) + "</body></html>"
    )
