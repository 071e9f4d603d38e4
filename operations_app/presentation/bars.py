"""Horizontal bar charts drawn on the server (``operations_app/_bar_chart.html``).

One row per item: its label on the left and its value printed on the right, the bar
below them. Bar widths are percentages of the chart's width and the text keeps its
size, so the chart reads the same on a phone and on a wide screen; each row carries the
exact value as a tooltip and the chart as a whole an accessible summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW_H = 36  # pixels per bar: a text line, the bar, a gap
BAR_H = 12
TEXT_Y = 13  # baseline of the label and value, from the row's top
BAR_Y = 19
LABEL_CHARS = 28  # longer labels are shortened on the chart (the tooltip has it all)


@dataclass(frozen=True)
class BarItem:
    label: str
    value: float
    text: str  # the value as printed
    title: str = ""  # the tooltip; the label and text when empty
    url: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    text: str
    title: str
    url: str
    width: float  # percent of the chart's width
    text_y: int
    bar_y: int


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    summary: str  # what a screen reader says for the whole chart
    empty_text: str = "Nothing to draw."
    bar_h: int = BAR_H

    @property
    def empty(self) -> bool:
        return not self.bars


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_chart(
    title: str, items: Sequence[BarItem], *, empty_text: str = "Nothing to draw."
) -> BarChart:
    """A chart of ``items`` in the order given, the largest value as wide as the chart;
    a value above zero always shows a sliver, negative values draw as zero."""
    top = max((max(i.value, 0.0) for i in items), default=0.0)
    bars = []
    for row, item in enumerate(items):
        value = max(item.value, 0.0)
        width = round(100.0 * value / top, 2) if top else 0.0
        if value > 0:
            width = max(width, 0.5)
        bars.append(
            Bar(
                label=_short(item.label),
                text=item.text,
                title=item.title or f"{item.label}: {item.text}",
                url=item.url,
                width=width,
                text_y=row * ROW_H + TEXT_Y,
                bar_y=row * ROW_H + BAR_Y,
            )
        )
    summary = f"{title}: " + "; ".join(f"{i.label} {i.text}" for i in items) if items else title
    return BarChart(
        title=title,
        bars=bars,
        height=len(bars) * ROW_H,
        summary=summary,
        empty_text=empty_text,
    )
