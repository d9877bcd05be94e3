"""Small, dependency-free SVG charts for self-contained HTML reports.

Each function returns one ``<svg>`` element as a string, with a ``data-chart``
attribute naming the chart kind (and any extra ``data-*`` attributes given), and a
``<title>`` tooltip on every mark.
"""

from __future__ import annotations

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

    def x(self, value: float) -> float:
        return self.left + self.width * value / self.x_max

    def y(self, value: float) -> float:
        return self.top + self.height * (self.y_hi - value) / (self.y_hi - self.y_lo)


def _sequence_plot(
    finite: Sequence[tuple[float, float, float, float]], width: int, height: int
) -> _Plot:
    left, right, top, bottom = 56, 20, 24, 40
    y_lo = min(min(p[2] for p in finite), 0.0)
    y_hi = max(max(p[3] for p in finite), 0.0)
    span = (y_hi - y_lo) or 1.0
    return _Plot(
        left,
        top,
        width - left - right,
        height - top - bottom,
        max(p[0] for p in finite) or 1.0,
        y_lo - 0.05 * span,
        y_hi + 0.05 * span,
    )


def _sequence_marks(
    plot: _Plot,
    finite: Sequence[tuple[float, float, float, float]],
    marks: Sequence[tuple[float, str]],
) -> list[str]:
    """The band, the estimate's line, the zero line, the looks and the last point."""
    band = [f"{plot.x(p[0]):.1f},{plot.y(p[3]):.1f}" for p in finite] + [
        f"{plot.x(p[0]):.1f},{plot.y(p[2]):.1f}" for p in reversed(finite)
    ]
    line = " ".join(f"{plot.x(p[0]):.1f},{plot.y(p[1]):.1f}" for p in finite)
    right = plot.left + plot.width
    parts = [
        f"<polygon points='{' '.join(band)}' fill='{REFERENCE_COLOR}' fill-opacity='0.25'>"
        "<title>anytime-valid confidence sequence of B - A</title></polygon>",
        f"<polyline points='{line}' fill='none' stroke='{REFERENCE_COLOR}' stroke-width='2'/>",
        f"<line x1='{plot.left}' x2='{right}' y1='{plot.y(0):.1f}' y2='{plot.y(0):.1f}' "
        f"stroke='{ALERT_COLOR}' stroke-dasharray='4 3'><title>B = A</title></line>",
    ]
    for x, label in marks:
        parts.append(
            f"<line x1='{plot.x(x):.1f}' x2='{plot.x(x):.1f}' y1='{plot.top}' "
            f"y2='{plot.top + plot.height}' stroke='#999' stroke-dasharray='2 3'>"
            f"<title>{escape(label)}</title></line>"
        )
    last = finite[-1]
    parts.append(
        f"<circle cx='{plot.x(last[0]):.1f}' cy='{plot.y(last[1]):.1f}' r='3' "
        f"fill='{REFERENCE_COLOR}'><title>{last[0]:.0f} labels: {last[1]:+.4f} in "
        f"[{last[2]:+.4f}, {last[3]:+.4f}]</title></circle>"
    )
    return parts


def _sequence_axes(plot: _Plot, x_label: str, height: int) -> tuple[list[str], list[str]]:
    """The horizontal grid with its values (drawn first), and the x axis (drawn last)."""
    right = plot.left + plot.width
    grid = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        value = plot.y_lo + (plot.y_hi - plot.y_lo) * frac
        y = plot.y(value)
        grid.append(
            f"<line x1='{plot.left}' x2='{right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>"
            f"<text x='{plot.left - 4}' y='{y + 4:.1f}' text-anchor='end'>{value:+.3f}</text>"
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
) -> str:
    """A confidence sequence over time: (x, estimate, lower, upper) as a band around a
    line, the zero line, and vertical ``marks`` (x, label) for the looks taken."""
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-chart='{escape(chart)}'"
        f"{_attrs(data or {})} {FONT}>"
    )
    finite = [p for p in points if all(abs(v) < float("inf") for v in p)]
    if not finite:
        return f"{head}<text x='56' y='44'>not enough labels yet</text></svg>"
    plot = _sequence_plot(finite, width, height)
    grid, axis = _sequence_axes(plot, x_label, height)
    return "".join([head, *grid, *_sequence_marks(plot, finite, marks), *axis, "</svg>"])
