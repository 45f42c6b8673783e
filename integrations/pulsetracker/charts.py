"""A small server-rendered bar chart of monthly messages, as numbers an SVG template draws."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.pulsetracker.client import MonthlyUsage

WIDTH = 480
HEIGHT = 180
LABEL_SPACE = 34  # below the bars, for month names
VALUE_SPACE = 16  # above the tallest bar, for its number
MAX_MONTHS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    baseline: float
    maximum: int


def monthly_chart(usage: tuple[MonthlyUsage, ...]) -> Chart:
    """Bars for the last twelve months that had traffic, scaled to the busiest one."""
    months = usage[-MAX_MONTHS:]
    baseline = HEIGHT - LABEL_SPACE
    if not months:
        return Chart((), WIDTH, HEIGHT, baseline, 0)
    maximum = max(m.messages_sent for m in months) or 1
    slot = WIDTH / len(months)
    bar_width = min(48.0, slot * 0.7)
    usable = baseline - VALUE_SPACE
    bars = []
    for index, month in enumerate(months):
        height = usable * month.messages_sent / maximum
        x = index * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                round(x, 1),
                round(baseline - height, 1),
                round(bar_width, 1),
                round(height, 1),
                month.label,
                month.messages_sent,
            )
        )
    return Chart(tuple(bars), WIDTH, HEIGHT, baseline, maximum)
