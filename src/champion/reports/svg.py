"""Small, dependency-free SVG charts for self-contained HTML reports.

Each function returns one ``<svg>`` element as a string, with a ``data-chart``
attribute naming the chart kind (and any extra ``data-*`` attributes given), and a
``<title>`` tooltip on every mark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    y_label: str = "share of rows",
) -> str:
    """Vertical grouped bars: one group per label, one bar per (name, values, color),
    the y axis named ``y_label``."""
    left, right, top, bottom = 56, 36, 22, 70
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
    parts.append(
        f"<text transform='translate(12,{top + plot_h / 2:.1f}) rotate(-90)' "
        f"text-anchor='middle'>{escape(y_label)}</text></svg>"
    )
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
    x_label: str = "",
) -> str:
    """Horizontal bars (one per label) with an optional vertical threshold line and the
    x axis named ``x_label``."""
    row_h, left, right, top = 22, 130, 60, 24
    height = top + row_h * len(labels) + (26 if x_label else 10)
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
    if x_label:
        parts.append(
            f"<text x='{left + plot_w / 2:.1f}' y='{height - 6}' text-anchor='middle'>"
            f"{escape(x_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


#: A point of a sequence over time: (x, estimate, lower, upper).
Point = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Plot:
    """The drawing area of a chart and its linear scales."""

    left: float
    top: float
    width: float  # of the plot area
    height: float
    x_max: float
    y_lo: float
    y_hi: float
    y_ticks: tuple[float, ...] = ()

    def x(self, value: float) -> float:
        return self.left + self.width * value / self.x_max

    def y(self, value: float) -> float:
        return self.top + self.height * (self.y_hi - value) / (self.y_hi - self.y_lo)


def meaningful_span(
    finite: Sequence[tuple[float, float, float, float]], boundary: float = 0.0
) -> tuple[float, float]:
    """The y span worth showing: zero, the boundary, the latest interval and the
    estimates of the later half of the looks, padded by half the latest interval's width.
    The first intervals of a sequence are very wide (unbounded at first); scaled to
    them, the interval that decides would be a flat line."""
    last = finite[-1]
    later = finite[len(finite) // 2 :]
    lo = min(0.0, boundary, last[2], *(p[1] for p in later))
    hi = max(0.0, boundary, last[3], *(p[1] for p in later))
    pad = 0.5 * ((last[3] - last[2]) or (hi - lo) or 1.0)
    return lo - pad, hi + pad


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    span = (hi - lo) or abs(hi) or 1.0
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = [first]
    while len(ticks) < 2 or ticks[-1] < hi - 1e-12 * span:
        ticks.append(ticks[-1] + step)
    return [round(t, 12) + 0.0 for t in ticks]  # + 0.0: no "-0.000" tick


def _sequence_plot(
    finite: Sequence[tuple[float, float, float, float]],
    width: int,
    height: int,
    span: tuple[float, float],
) -> _Plot:
    left, right, top, bottom = 78, 20, 24, 40
    ticks = nice_ticks(*span)
    return _Plot(
        left,
        top,
        width - left - right,
        height - top - bottom,
        max(p[0] for p in finite) or 1.0,
        ticks[0],
        ticks[-1],
        tuple(ticks),
    )


def _clamped(plot: _Plot, value: float) -> float:
    return plot.y(min(max(value, plot.y_lo), plot.y_hi))


def _sequence_marks(
    plot: _Plot,
    finite: Sequence[tuple[float, float, float, float]],
    marks: Sequence[tuple[float, str]],
    boundary: float | None,
) -> list[str]:
    """The band (clamped to the plot), the estimate's line, the zero line, the
    promotion boundary, the looks and the last point."""
    band = [f"{plot.x(p[0]):.1f},{_clamped(plot, p[3]):.1f}" for p in finite] + [
        f"{plot.x(p[0]):.1f},{_clamped(plot, p[2]):.1f}" for p in reversed(finite)
    ]
    line = " ".join(f"{plot.x(p[0]):.1f},{_clamped(plot, p[1]):.1f}" for p in finite)
    right = plot.left + plot.width
    parts = [
        f"<polygon points='{' '.join(band)}' fill='{REFERENCE_COLOR}' fill-opacity='0.25'>"
        "<title>anytime-valid confidence sequence of B - A</title></polygon>",
        f"<polyline points='{line}' fill='none' stroke='{REFERENCE_COLOR}' stroke-width='2'/>",
        f"<line x1='{plot.left}' x2='{right}' y1='{plot.y(0):.1f}' y2='{plot.y(0):.1f}' "
        f"stroke='#555' stroke-dasharray='4 3'><title>B = A</title></line>",
    ]
    if boundary is not None:
        y = plot.y(boundary)
        parts.append(
            f"<line x1='{plot.left}' x2='{right}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='{OK_COLOR}' stroke-width='1.5' data-boundary='{boundary:g}'>"
            f"<title>promotion boundary: B is promoted once the band's lower edge is above "
            f"{boundary:+g}</title></line>"
            f"<text x='{right - 4}' y='{y - 4:.1f}' text-anchor='end' fill='{OK_COLOR}'>"
            "promote above</text>"
        )
    clipped = sum(p[2] < plot.y_lo or p[3] > plot.y_hi for p in finite)
    if clipped:
        parts.append(
            f"<text x='{plot.left + 4}' y='{plot.top + 12}' fill='#777'>{clipped} early "
            "look(s) wider than the chart, cut at its edges</text>"
        )
    for x, label in marks:
        parts.append(
            f"<line x1='{plot.x(x):.1f}' x2='{plot.x(x):.1f}' y1='{plot.top}' "
            f"y2='{plot.top + plot.height}' stroke='#999' stroke-dasharray='2 3'>"
            f"<title>{escape(label)}</title></line>"
        )
    last = finite[-1]
    if len(finite) == 1:  # one look: its interval as a bar (a band needs two)
        x = plot.x(last[0])
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{_clamped(plot, last[2]):.1f}' "
            f"y2='{_clamped(plot, last[3]):.1f}' stroke='{REFERENCE_COLOR}' stroke-width='6' "
            "stroke-opacity='0.4'/>"
        )
    parts.append(
        f"<circle cx='{plot.x(last[0]):.1f}' cy='{plot.y(last[1]):.1f}' r='3' "
        f"fill='{REFERENCE_COLOR}'><title>{last[0]:.0f} labels: {last[1]:+.4f} in "
        f"[{last[2]:+.4f}, {last[3]:+.4f}]</title></circle>"
    )
    return parts


def _sequence_axes(
    plot: _Plot, x_label: str, y_label: str, height: int, y_format: str
) -> tuple[list[str], list[str]]:
    """The horizontal grid with its values and the y axis's name (drawn first), and the
    x axis (drawn last)."""
    right = plot.left + plot.width
    grid = []
    if not y_format and len(plot.y_ticks) > 1:  # as many decimals as the ticks' step needs
        step = plot.y_ticks[1] - plot.y_ticks[0]
        y_format = f"+,.{max(0, -math.floor(math.log10(step)))}f"
    for value in plot.y_ticks:
        y = plot.y(value)
        grid.append(
            f"<line x1='{plot.left}' x2='{right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>"
            f"<text x='{plot.left - 4}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{format(value, y_format)}</text>"
        )
    mid = plot.top + plot.height / 2
    grid.append(
        f"<text transform='translate(12,{mid:.1f}) rotate(-90)' text-anchor='middle'>"
        f"{escape(y_label)}</text>"
    )
    axis = [
        f"<text x='{plot.x(plot.x_max * frac):.1f}' y='{plot.top + plot.height + 16}' "
        f"text-anchor='middle'>{plot.x_max * frac:,.0f}</text>"
        for frac in (0.0, 0.5, 1.0)
    ]
    axis.append(
        f"<text x='{plot.left + plot.width / 2:.1f}' y='{height - 4}' text-anchor='middle'>"
        f"{escape(x_label)}</text>"
    )
    return grid, axis


def sequence_band(
    points: Sequence[tuple[float, float, float, float]],
    *,
    chart: str,
    marks: Sequence[tuple[float, str]] = (),
    data: Mapping[str, str] | None = None,
    width: int = 760,
    height: int = 300,
    x_label: str = "labelled rows",
    y_label: str = "B − A",
    y_format: str = "",
    boundary: float | None = None,
) -> str:
    """A confidence sequence over time: (x, estimate, lower, upper) as a band around a
    line, the zero line, the promotion ``boundary`` and vertical ``marks`` (x, label)
    for the looks taken; the y axis spans what decides (:func:`meaningful_span`)."""
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}'"
        f"{_attrs(data or {})} {FONT}>"
    )
    # a look before the labels any interval needs has none (a point, not a band)
    finite = [p for p in points if all(abs(v) < float("inf") for v in p) and p[3] > p[2]]
    if not finite:
        why = "not enough labels yet"
        if points and all(p[2] == p[3] for p in points):
            why = f"B − A is exactly {points[-1][1]:+g} so far (the models agree on every row)"
        return f"{head}<text x='56' y='44'>{escape(why)}</text></svg>"
    plot = _sequence_plot(finite, width, height, meaningful_span(finite, boundary or 0.0))
    grid, axis = _sequence_axes(plot, x_label, y_label, height, y_format)
    marks_ = _sequence_marks(plot, finite, marks, boundary)
    return "".join([head, *grid, *marks_, *axis, "</svg>"])


def minute_bars(
    values: Sequence[tuple[str, float]],
    *,
    chart: str,
    y_label: str,
    x_label: str = "minute (UTC)",
    color: str = REFERENCE_COLOR,
    width: int = 520,
    height: int = 200,
    y_format: str = ",.0f",
) -> str:
    """One bar per (label, value) in time order — requests or latency per minute — with
    the y axis from zero to the peak and named with its unit."""
    left, right, top, bottom = 64, 12, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}' {FONT}>"
    )
    if not values:
        return f"{head}<text x='{left}' y='{top + 20}'>nothing in this span</text></svg>"
    peak = max(v for _, v in values) or 1.0
    bar = plot_w / len(values)
    parts = [head]
    shown: set[str] = set()
    for frac in (0.0, 0.5, 1.0):
        if format(peak * frac, y_format) in shown:
            continue  # a small whole-number peak: no tick repeats another's text
        shown.add(format(peak * frac, y_format))
        y = top + plot_h * (1 - frac)
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>"
            f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{format(peak * frac, y_format)}</text>"
        )
    for i, (label, value) in enumerate(values):
        h = plot_h * value / peak
        parts.append(
            f"<rect x='{left + i * bar:.1f}' y='{top + plot_h - h:.1f}' "
            f"width='{max(bar - 1, 1):.1f}' height='{h:.1f}' fill='{color}'>"
            f"<title>{escape(label)}: {format(value, y_format)}</title></rect>"
        )
    for i in sorted({0, len(values) // 2, len(values) - 1}):
        parts.append(
            f"<text x='{left + (i + 0.5) * bar:.1f}' y='{top + plot_h + 14}' "
            f"text-anchor='middle'>{escape(values[i][0])}</text>"
        )
    parts.append(
        f"<text x='{left + plot_w / 2:.1f}' y='{height - 4}' text-anchor='middle'>"
        f"{escape(x_label)}</text>"
        f"<text transform='translate(12,{top + plot_h / 2:.1f}) rotate(-90)' "
        f"text-anchor='middle'>{escape(y_label)}</text></svg>"
    )
    return "".join(parts)
