"""Chart geometry for the HTML report: numbers only, so the template draws SVG and escapes every label.

Why inline SVG computed here: the report is one file that opens offline, with no script library to fetch
and no script at all (its Content-Security-Policy forbids any), and a person sees at a glance where the
fleet stands, which findings dominate and when a source started failing.

    >>> chart = bars([("critical", 2, "critical"), ("info", 0, "info")])
    >>> [round(b.width) for b in chart.bars]
    [300, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    css: str  # a class of the page's stylesheet (a severity or a status), never a colour from data
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per row: label on the left, bar, value on the right."""

    bars: tuple[Bar, ...]
    height: float
    label_width: float = 250.0
    bar_width: float = 300.0
    row: float = 22.0


def bars(rows: Sequence[tuple[str, int, str]], *, bar_width: float = 300.0, row: float = 22.0) -> BarChart:
    """``(label, value, css class)`` rows, scaled to the largest value."""
    top = max((v for _, v, _ in rows), default=0) or 1
    out = tuple(Bar(label, value, css, i * row, bar_width * value / top) for i, (label, value, css) in enumerate(rows))
    return BarChart(out, max(row, len(rows) * row), bar_width=bar_width, row=row)


@dataclass(frozen=True)
class Segment:
    label: str
    value: int
    css: str
    x: float
    width: float


@dataclass(frozen=True)
class Stack:
    """One bar split into segments: the share of each status in a whole."""

    segments: tuple[Segment, ...]
    width: float
    total: int


def stack(parts: Sequence[tuple[str, int, str]], *, width: float = 600.0) -> Stack:
    """``(label, value, css class)`` parts side by side, each as wide as its share."""
    total = sum(v for _, v, _ in parts)
    x, out = 0.0, []
    for label, value, css in parts:
        w = width * value / total if total else 0.0
        out.append(Segment(label, value, css, x, w))
        x += w
    return Stack(tuple(s for s in out if s.value), width, total)


@dataclass(frozen=True)
class Spark:
    """Events per day as a column sparkline."""

    columns: tuple[tuple[float, float, float, int], ...]  # x, y, height, value
    width: float
    height: float


def spark(values: Sequence[int], *, width: float = 140.0, height: float = 24.0) -> Spark:
    """A column per value, scaled to the largest."""
    top = max(values, default=0) or 1
    step = width / max(1, len(values))
    columns = []
    for i, v in enumerate(values):
        h = 0.0 if v == 0 else max(1.5, height * v / top)
        columns.append((i * step, height - h, h, v))
    return Spark(tuple(columns), width, height)
