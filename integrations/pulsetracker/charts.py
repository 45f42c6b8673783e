"""Small server-rendered charts of monthly messages, as numbers an SVG template draws: a bar
chart for the app page, a sparkline for each row of the apps list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

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


# A sparkline: an app's last twelve months of messages in a row of the apps list.

SPARK_WIDTH = 96
SPARK_HEIGHT = 24
SPARK_PAD = 2.0  # keeps the line's stroke and the end dot inside the box


@dataclass(frozen=True)
class Sparkline:
    points: str  # "x,y x,y …" for an SVG polyline, oldest month first
    end_x: float  # the current month's point, drawn as a dot
    end_y: float
    width: int
    height: int
    label: str  # what the line shows, in words (the SVG's accessible name)


def _last_months(today: date, count: int) -> list[tuple[int, int]]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def sparkline(usage: tuple[MonthlyUsage, ...], today: date | None = None) -> Sparkline:
    """The twelve calendar months up to this one (UTC), months without traffic as 0, scaled to
    the busiest; the label names the span, the busiest month and this month's count."""
    today = today or datetime.now(UTC).date()
    months = _last_months(today, MAX_MONTHS)
    sent = {(u.year, u.month): u.messages_sent for u in usage}
    values = [sent.get(month, 0) for month in months]
    busiest = max(values)
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (len(values) - 1)
    usable = SPARK_HEIGHT - 2 * SPARK_PAD
    coordinates = [
        (
            round(SPARK_PAD + index * step, 1),
            round(SPARK_PAD + usable * (1 - (value / busiest if busiest else 0)), 1),
        )
        for index, value in enumerate(values)
    ]

    def name(month: tuple[int, int]) -> str:
        return date(month[0], month[1], 1).strftime("%b %Y")

    span = f"Messages a month from {name(months[0])} to {name(months[-1])}"
    if busiest:
        top = months[values.index(busiest)]
        label = f"{span}: busiest {name(top)} with {busiest:,}; this month {values[-1]:,}."
    else:
        label = f"{span}: none."
    return Sparkline(
        points=" ".join(f"{x},{y}" for x, y in coordinates),
        end_x=coordinates[-1][0],
        end_y=coordinates[-1][1],
        width=SPARK_WIDTH,
        height=SPARK_HEIGHT,
        label=label,
    )
