"""Server-side SVG charts: one mark per point, exact values in tooltips, labels escaped."""

from __future__ import annotations

import re

from app.dashboard.charts import HEIGHT, PAD_BOTTOM, PAD_TOP, Point, bar_chart, line_chart


def test_bars_scale_to_the_largest_value_and_carry_exact_tooltips():
    svg = str(bar_chart("Fees", [Point("11-01", 0), Point("11-02", 250), Point("11-03", 1000)], "sat"))
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([0-9.]+)"', svg)]
    plot = HEIGHT - PAD_BOTTOM - PAD_TOP
    assert heights == [0.0, plot / 4, plot]
    assert "11-03: 1,000 sat" in svg and svg.startswith("<svg") and svg.endswith("</svg>")


def test_a_line_has_a_dot_per_point_and_an_empty_series_still_draws_a_frame():
    svg = str(line_chart("Balance", [Point(str(n), n * 10) for n in range(30)], "sat"))
    assert svg.count("<circle") == 30
    labels = re.findall(rf'<text class="tick"[^>]*y="{HEIGHT - 6}"', svg)
    assert len(labels) == 8  # every fourth of 30 points: labels thinned out, still legible
    empty = str(bar_chart("Nothing", [], "sat"))
    assert "<rect" not in empty and "<title>Nothing</title>" in empty


def test_labels_and_titles_are_escaped():
    svg = str(bar_chart("<b>x</b>", [Point("<script>alert(1)</script>", 1)], "<u>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg
