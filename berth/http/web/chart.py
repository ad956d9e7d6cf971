"""The usage-logs chart: actions per day, one stacked bar a day, one colour a kind, drawn as
SVG on the server from the aggregate counts (``{kind, count, datetime}`` per kind and UTC
day, the answer of ``.../aggregatelogs``). No script and no inline style: the template
writes the geometry computed here into ``<rect>`` attributes (the CSP allows those).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from berth.http.web.logkinds import title

WIDTH = 960
HEIGHT = 280
LEFT = 48
RIGHT = 12
TOP = 12
BOTTOM = 36
# PatternFly's chart palette (blue, green, orange, purple, cyan, gold, red, black ... shades).
PALETTE = (
    "#0066cc", "#4cb140", "#ec7a08", "#5752d1", "#009596", "#f4c145", "#c9190b", "#8a8d90",
    "#8bc1f7", "#bde2b9", "#f4b678", "#b2b0ea", "#a2d9d9", "#f9e0a2", "#f0ab00", "#470000",
    "#004b95", "#38812f", "#8f4700", "#3c3d99", "#005f60", "#c58c00", "#7d1007", "#4f5255",
)  # fmt: skip


@dataclass(frozen=True)
class Segment:
    kind: str
    label: str
    count: int
    color: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Day:
    day: date
    total: int
    segments: list[Segment]
    label_x: float
    show_label: bool


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class LegendItem:
    kind: str
    label: str
    color: str
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    days: list[Day]
    ticks: list[Tick]
    legend: list[LegendItem]
    total: int


def _day_of(value: str) -> date:
    return parsedate_to_datetime(value).date()


def _scale(value: int) -> tuple[int, int]:
    """The y axis: (top, tick step), about four round steps above ``value``."""
    if value <= 4:
        return max(value, 1), 1
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for m in (1, 2, 5, 10):
        step = m * magnitude
        if step >= raw:
            break
    return int(math.ceil(value / step) * step), step


def build(aggregated: list[dict[str, Any]], first: date, last: date) -> Chart:
    """The chart of ``aggregated`` over the days ``first`` .. ``last`` (inclusive)."""
    n_days = max((last - first).days + 1, 1)
    per_day: dict[date, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for item in aggregated:
        d = _day_of(str(item["datetime"]))
        kind = str(item["kind"])
        count = int(item["count"])
        per_day.setdefault(d, {})[kind] = per_day.get(d, {}).get(kind, 0) + count
        totals[kind] = totals.get(kind, 0) + count
    kinds = sorted(totals, key=lambda k: (-totals[k], k))
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top, step = _scale(max((sum(c.values()) for c in per_day.values()), default=0))
    slot = plot_w / n_days
    bar_w = max(slot * 0.7, 1.0)
    label_every = max(1, math.ceil(n_days / 10))
    days: list[Day] = []
    for i in range(n_days):
        d = first + timedelta(days=i)
        counts = per_day.get(d, {})
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        segments: list[Segment] = []
        for kind in kinds:  # same stacking order every day: the biggest kind at the bottom
            count = counts.get(kind, 0)
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            segments.append(
                Segment(kind, title(kind), count, colors[kind], round(x, 1), round(base, 1),
                        round(bar_w, 1), round(h, 1))
            )  # fmt: skip
        days.append(
            Day(d, sum(counts.values()), segments, round(LEFT + i * slot + slot / 2, 1),
                i % label_every == 0)
        )  # fmt: skip
    ticks = [Tick(v, round(TOP + plot_h - plot_h * v / top, 1)) for v in range(0, top + 1, step)]
    legend = [LegendItem(k, title(k), colors[k], totals[k]) for k in kinds]
    return Chart(
        WIDTH, HEIGHT, LEFT, TOP, plot_w, plot_h, days, ticks, legend, sum(totals.values())
    )


def parse_day(value: str) -> date | None:
    """An ``<input type="date">`` value (``YYYY-MM-DD``)."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
