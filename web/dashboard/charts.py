"""The dashboard's charts drawn as SVG with pygal (server-side, no chart script in the
browser). They are served as images (`<img src=…svg>`): an image runs no script, and the
chart's own `<style>` is allowed by the SVG answer's own policy (`SVG_POLICY`), never by the
pages'. Series differ by fill pattern and line dash as well as by colour, and every value
is printed on the chart; the page carries the same numbers in a table."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pygal
from flask_babel import gettext as _
from pygal.style import Style

from web.labels import label

#: The policy of a chart's answer: nothing but the chart's own inline style.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
CHARTS = ("new_cases", "deadlines_met", "median_times")

#: Light fills (the printed values stay black and readable) under dark patterns.
COLOURS = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fdd0a2", "#c6dbef", "#d9d9d9")
#: Lines: dark enough on white.
LINES = ("#1f4e79", "#c55a11")
#: One pattern per series, drawn over its colour: the series are told apart without colour.
PATTERNS = (
    "",  # solid
    '<path d="M0,8 L8,0" stroke="#333" stroke-width="2"/>',  # diagonal
    '<circle cx="4" cy="4" r="1.6" fill="#333"/>',  # dots
    '<path d="M0,4 H8" stroke="#333" stroke-width="2"/>',  # horizontal
    '<path d="M4,0 V8" stroke="#333" stroke-width="2"/>',  # vertical
    '<path d="M0,0 L8,8 M8,0 L0,8" stroke="#333" stroke-width="1.5"/>',  # cross
    '<rect x="2" y="2" width="4" height="4" fill="#333"/>',  # squares
)


def _defs(prefix: str) -> list[str]:
    return [
        f'<pattern id="{prefix}{i}" width="8" height="8" patternUnits="userSpaceOnUse">'
        f'<rect width="8" height="8" fill="{colour}"/>{PATTERNS[i]}</pattern>'
        for i, colour in enumerate(COLOURS)
    ]


def _style(fills: tuple[str, ...]) -> Style:
    return Style(
        background="white",
        plot_background="white",
        font_family="'DejaVu Sans', Arial, sans-serif",
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=12,
        value_colors=("#000",) * len(COLOURS),
        colors=fills,
        opacity="1",
        opacity_hover="1",
        no_data_font_size=28,
    )


def _chart(kind: Callable[..., Any], fills: tuple[str, ...], **config: Any) -> Any:
    prefix = "p"
    chart = kind(
        js=[],  # no script: the pages' policy would block it, and images run none anyway
        style=_style(fills),
        width=900,
        legend_at_bottom=True,
        margin_right=48,  # printed values at the last month stay inside
        legend_at_bottom_columns=3,
        print_values=True,
        print_zeroes=False,
        no_data_text=_("No data"),
        defs=_defs(prefix),
        **{"height": 420, **config},
    )
    return chart


def _patterned(n: int) -> tuple[str, ...]:
    return tuple(f"url(#p{i % len(COLOURS)})" for i in range(n))


def _render(chart: Any) -> bytes:
    svg: str = chart.render(is_unicode=True)
    # pygal writes its configuration as a <script> even without scripts: drop it.
    return re.sub(r"<script.*?</script>", "", svg, flags=re.S).encode()


def new_cases(data: dict[str, Any]) -> bytes:
    kinds = data["kinds"]
    top = max(data["totals"])
    every = max(1, -(-top // 8))  # whole numbers on the axis: cases are counted
    # (pygal fails on given axis labels without a series: only with data.)
    axis = {"y_labels": list(range(0, top + every, every))} if kinds else {}
    chart = _chart(pygal.StackedBar, _patterned(len(kinds)), **axis)
    chart.x_labels = data["months"]
    for kind in kinds:
        chart.add(label("abuse_type", kind), [n or None for n in data["counts"][kind]])
    return _render(chart)


def deadlines_met(data: dict[str, Any]) -> bytes:
    rows = list(reversed(data["rows"]))  # pygal draws horizontal bars bottom-up
    chart = _chart(
        pygal.HorizontalStackedBar,
        ("url(#p0)", "url(#p1)"),
        range=(0, 100),
        value_formatter=lambda v: f"{v:.0f}%" if v else "",
        height=max(220, 80 + 48 * len(rows)),
    )
    chart.x_labels = [label("rule", r["rule"]) for r in rows]
    on_time = [
        {"value": r["percent"], "label": f"{r['on_time']}"} if r["on_time"] else None for r in rows
    ]
    late = [
        {"value": 100 - r["percent"], "label": f"{r['late']}"} if r["late"] else None for r in rows
    ]
    chart.add(_("On time"), on_time)
    chart.add(_("Late"), late)
    return _render(chart)


def median_times(data: dict[str, Any]) -> bytes:
    chart = _chart(
        pygal.Line,
        LINES,
        include_x_axis=True,
        allow_interruptions=True,
        dots_size=5,
        value_formatter=lambda v: f"{v:.1f}",
        y_title=_("hours"),
    )
    chart.x_labels = data["months"]
    chart.add(
        label("rule", "initial_assessment"),
        data["monthly"]["initial_assessment"],
        stroke_style={"width": 3},
    )
    chart.add(
        label("rule", "plan_approval"),
        data["monthly"]["plan_approval"],
        stroke_style={"width": 3, "dasharray": "10, 6"},
    )
    return _render(chart)


DRAW: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "new_cases": new_cases,
    "deadlines_met": deadlines_met,
    "median_times": median_times,
}
