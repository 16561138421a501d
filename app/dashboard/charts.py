"""Small SVG charts rendered on the server, so the pages need no script and no chart library.

Hand-written on purpose: the dashboard draws two simple shapes (bars per day, a line over syncs); a
charting package would bring either a script to the browser or a plotting stack to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 160
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 56, 22, 10


@dataclass(frozen=True)
class Point:
    """One labelled value of a series."""

    label: str
    value: float


def _scale(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}"


def _frame(title: str, top: float, body: list[str]) -> Markup:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH}" y2="{PAD_TOP + plot_h}"/>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" text-anchor="end">{_number(top)}</text>',
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{PAD_TOP + plot_h}" text-anchor="end">0</text>',
        *body,
        "</svg>",
    ]
    return Markup("".join(parts))


def _labels(points: Sequence[Point], xs: Sequence[float]) -> list[str]:
    """At most about eight x labels, evenly picked, so long series stay legible."""
    step = max(1, -(-len(points) // 8))
    labels = []
    for index, (point, x) in enumerate(zip(points, xs, strict=True)):
        if index % step:
            continue
        # Labels at the edges grow inwards, so none is cut off by the frame.
        anchor = "start" if x < PAD_LEFT + 30 else "end" if x > WIDTH - 30 else "middle"
        labels.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">{escape(point.label)}</text>'
        )
    return labels


def bar_chart(title: str, points: Sequence[Point], unit: str) -> Markup:
    """Vertical bars, one per point, each with its exact value as a tooltip."""
    top = _scale([p.value for p in points])
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(1, len(points))
    body: list[str] = []
    xs: list[float] = []
    for index, point in enumerate(points):
        height = plot_h * point.value / top
        x = PAD_LEFT + 2 + index * slot
        xs.append(x + slot / 2)
        body.append(
            f'<rect class="bar" x="{x + slot * 0.1:.1f}" y="{PAD_TOP + plot_h - height:.1f}" '
            f'width="{slot * 0.8:.1f}" height="{height:.1f}"><title>{escape(point.label)}: '
            f"{point.value:,.0f} {escape(unit)}</title></rect>"
        )
    return _frame(title, top, body + _labels(points, xs))


def line_chart(title: str, points: Sequence[Point], unit: str) -> Markup:
    """A polyline through the points, with a dot (and tooltip) on each."""
    top = _scale([p.value for p in points])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(points) - 1)
    coords = [
        (PAD_LEFT + 4 + index * step, PAD_TOP + plot_h - plot_h * point.value / top)
        for index, point in enumerate(points)
    ]
    body = [f'<polyline class="line" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}"/>']
    body += [
        f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(point.label)}: '
        f"{point.value:,.0f} {escape(unit)}</title></circle>"
        for point, (x, y) in zip(points, coords, strict=True)
    ]
    return _frame(title, top, body + _labels(points, [x for x, _ in coords]))
