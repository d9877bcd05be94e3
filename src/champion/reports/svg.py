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


def sequence_band(
    points: Sequence[tuple[float, float, float, float]],
    *,
    chart: str,
    marks: Sequence[tuple[float, str]] = (),
    data: Mapping[str, str] | None = None,
    width: int = 760,
    height: int = 300,
    x_label: str = "labelled rows",
) -> str:
    """A confidence sequence over time: (x, estimate, lower, upper) as a band around a
    line, the zero line, and vertical ``marks`` (x, label) for the looks taken."""
    left, right, top, bottom = 56, 20, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [p for p in points if all(abs(v) < float("inf") for v in p)]
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}'"
        f"{_attrs(data or {})} {FONT}>"
    ]
    if not finite:
        parts.append(f"<text x='{left}' y='{top + 20}'>not enough labels yet</text></svg>")
        return "".join(parts)
    x_max = max(p[0] for p in finite) or 1.0
    lows = [p[2] for p in finite]
    highs = [p[3] for p in finite]
    y_lo, y_hi = min(min(lows), 0.0), max(max(highs), 0.0)
    span = (y_hi - y_lo) or 1.0
    y_lo, y_hi = y_lo - 0.05 * span, y_hi + 0.05 * span

    def sx(x: float) -> float:
        return left + plot_w * x / x_max

    def sy(y: float) -> float:
        return top + plot_h * (y_hi - y) / (y_hi - y_lo)

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        value = y_lo + (y_hi - y_lo) * frac
        y = sy(value)
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>"
            f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{value:+.3f}</text>"
        )
    band = [f"{sx(p[0]):.1f},{sy(p[3]):.1f}" for p in finite] + [
        f"{sx(p[0]):.1f},{sy(p[2]):.1f}" for p in reversed(finite)
    ]
    parts.append(
        f"<polygon points='{' '.join(band)}' fill='{REFERENCE_COLOR}' fill-opacity='0.25'>"
        "<title>anytime-valid confidence sequence of B - A</title></polygon>"
    )
    line = " ".join(f"{sx(p[0]):.1f},{sy(p[1]):.1f}" for p in finite)
    parts.append(
        f"<polyline points='{line}' fill='none' stroke='{REFERENCE_COLOR}' stroke-width='2'/>"
    )
    parts.append(
        f"<line x1='{left}' x2='{width - right}' y1='{sy(0):.1f}' y2='{sy(0):.1f}' "
        f"stroke='{ALERT_COLOR}' stroke-dasharray='4 3'><title>B = A</title></line>"
    )
    for x, label in marks:
        parts.append(
            f"<line x1='{sx(x):.1f}' x2='{sx(x):.1f}' y1='{top}' y2='{top + plot_h}' "
            f"stroke='#999' stroke-dasharray='2 3'><title>{escape(label)}</title></line>"
        )
    last = finite[-1]
    parts.append(
        f"<circle cx='{sx(last[0]):.1f}' cy='{sy(last[1]):.1f}' r='3' fill='{REFERENCE_COLOR}'>"
        f"<title>{last[0]:.0f} labels: {last[1]:+.4f} in [{last[2]:+.4f}, {last[3]:+.4f}]"
        "</title></circle>"
    )
    for frac in (0.0, 0.5, 1.0):
        parts.append(
            f"<text x='{sx(x_max * frac):.1f}' y='{top + plot_h + 16}' text-anchor='middle'>"
            f"{x_max * frac:,.0f}</text>"
        )
    parts.append(
        f"<text x='{left + plot_w / 2:.1f}' y='{height - 4}' text-anchor='middle'>"
        f"{escape(x_label)}</text></svg>"
    )
    return "".join(parts)
