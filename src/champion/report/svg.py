"""Small, dependency-free SVG charts for self-contained HTML reports.

Each function returns one ``<svg>`` element as a string, with a ``data-chart``
attribute naming the chart kind (and any extra ``data-*`` attributes given), and a
``<title>`` tooltip on every mark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
ALERT_COLOR = "#d62728"
OK_COLOR = "#54a24b"
FONT = "font-family='system-ui, sans-serif' font-size='11'"


def _attrs(data: Mapping[str, str]) -> str:
    return "".join(f' data-{escape(k)}="{escape(str(v))}"' for k, v in data.items())


def _truncate(label: str, width: int) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    chart: str,
    data: Mapping[str, str] | None = None,
    width: int = 520,
    height: int = 240,
    percent: bool = True,
) -> str:
    """Vertical grouped bars: one group per label, one bar per (name, values, color)."""
    left, right, top, bottom = 44, 36, 22, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, values, _ in series for v in values), default=0.0) or 1.0
    group_w = plot_w / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}'"
        f"{_attrs(data or {})} {FONT}>"
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        value = peak * frac
        text = f"{value:.0%}" if percent else f"{value:.3g}"
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ddd'/>"
            f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{text}</text>"
        )
    for i, label in enumerate(labels):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, values, color) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            shown = f"{value:.2%}" if percent else f"{value:.4g}"
            parts.append(
                f"<rect x='{x0 + j * bar_w:.1f}' y='{top + plot_h - h:.1f}' "
                f"width='{max(bar_w - 1, 1):.1f}' height='{h:.1f}' fill='{color}'>"
                f"<title>{escape(name)} · {escape(label)}: {shown}</title></rect>"
            )
        cx = left + (i + 0.5) * group_w
        parts.append(
            f"<text transform='translate({cx:.1f},{top + plot_h + 8}) rotate(40)' "
            f"text-anchor='start'>{escape(_truncate(label, 16))}</text>"
        )
    lx = left
    for name, _, color in series:
        parts.append(
            f"<rect x='{lx}' y='4' width='10' height='10' fill='{color}'/>"
            f"<text x='{lx + 14}' y='13'>{escape(name)}</text>"
        )
        lx += 14 + 7 * len(name) + 16
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    chart: str,
    colors: Sequence[str],
    threshold: float | None = None,
    threshold_label: str = "",
    width: int = 560,
) -> str:
    """Horizontal bars (one per label) with an optional vertical threshold line."""
    row_h, left, right, top = 22, 130, 60, 24
    height = top + row_h * len(labels) + 10
    plot_w = width - left - right
    peak = max([*values, threshold or 0.0, 1e-12])
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}' {FONT}>"
    ]
    for i, (label, value, color) in enumerate(zip(labels, values, colors, strict=True)):
        y = top + i * row_h
        w = plot_w * value / peak
        parts.append(
            f"<text x='{left - 6}' y='{y + 14}' text-anchor='end'>"
            f"{escape(_truncate(label, 20))}</text>"
            f"<rect x='{left}' y='{y + 3}' width='{max(w, 1):.1f}' height='{row_h - 6}' "
            f"fill='{color}'><title>{escape(label)}: {value:.4f}</title></rect>"
            f"<text x='{left + w + 4:.1f}' y='{y + 14}'>{value:.3f}</text>"
        )
    if threshold is not None:
        x = left + plot_w * threshold / peak
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top - 6}' y2='{height - 6}' "
            f"stroke='#333' stroke-dasharray='4 3'/>"
            f"<text x='{x:.1f}' y='{top - 10}' text-anchor='middle'>"
            f"{escape(threshold_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
