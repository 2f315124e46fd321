"""The overview's charts, drawn on the server as SVG (no script, so the CSP stays strict).

* events received per hour over the last 24 hours, stacked by their current status;
* delivery latency per hour (received -> delivered): average and worst.

Both are drawn from the day's rows the overview already read
(:func:`bridge.events.overview.hourly_since`: per hour, status and type, bucketed in SQL). Colours are SVG presentation attributes, not ``style``, which a
strict ``style-src 'self'`` would block.

Failure policy: database errors propagate to the page like the overview's other queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.events.overview import HourRow
from bridge.events.models import EventStatus, utcnow

HOURS = 24
WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28
COLOURS = {  # the console's status badge colours
    EventStatus.DELIVERED: "#1b7f3b", EventStatus.SKIPPED: "#9aa1ad", EventStatus.PENDING: "#2f5bd3",
    EventStatus.PROCESSING: "#a15c00", EventStatus.RETRYING: "#e0a030", EventStatus.DEAD: "#b42318",
    EventStatus.INVALID: "#7a1a10",
}


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """Everything the template draws: plot-area geometry, shapes, labels."""

    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)  # {"points": "x,y x,y", "colour": .., "label": ..}
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = True
    left: int = LEFT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def _hours(now: datetime) -> list[str]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    return [(start + timedelta(hours=index)).strftime("%Y-%m-%d %H") for index in range(HOURS)]


def _frame(chart: Chart, hours: list[str], top_value: float, unit: str) -> float:
    """Axis ticks and hour labels; returns the x step per hour."""
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top
    for fraction in (0, 0.5, 1):
        value = top_value * fraction
        chart.y_ticks.append((chart.bottom - plot_h * fraction, f"{value:.0f}{unit}" if value >= 10 or not value
                              else f"{value:.1f}{unit}"))
    step = plot_w / len(hours)
    for index, hour in enumerate(hours):
        if index % 4 == 0:
            chart.x_labels.append((chart.left + step * index + step / 2, hour[-2:] + ":00"))
    return step


def overview_charts(rows: list[HourRow], now: datetime | None = None) -> dict[str, Chart]:
    """Both charts of the overview, from the day's rows (`Overview.hourly`)."""
    hours = _hours(now or utcnow())
    return {"events": events_per_hour(rows, hours), "latency": delivery_latency(rows, hours)}


def events_per_hour(rows: list[HourRow], hours: list[str]) -> Chart:
    counts: dict[str, dict[str, int]] = {hour: {} for hour in hours}
    for row in rows:  # an hour before the first is the day window's partial first hour
        if row.hour in counts:
            counts[row.hour][row.status] = counts[row.hour].get(row.status, 0) + row.count
    chart = Chart(legend=[(status, COLOURS[status]) for status in EventStatus.ALL])
    top_value = max([sum(by.values()) for by in counts.values()] + [0])
    chart.empty = top_value == 0
    top_value = max(top_value, 4)
    step = _frame(chart, hours, top_value, "")
    scale = (chart.bottom - chart.top) / top_value
    for index, hour in enumerate(hours):
        y = chart.bottom
        for status in EventStatus.ALL:
            count = counts[hour].get(status, 0)
            if count:
                height = count * scale
                y -= height
                chart.bars.append(Bar(chart.left + step * index + 1, y, max(step - 2, 1), height, COLOURS[status],
                                      f"{hour}:00 UTC: {count} {status}"))
    return chart


def delivery_latency(rows: list[HourRow], hours: list[str]) -> Chart:
    """Average and worst seconds from received to delivered, per hour."""
    totals: dict[str, list] = {}  # hour -> [completed, seconds summed, worst]
    for row in rows:
        if row.status == EventStatus.DELIVERED and row.completed and row.hour in hours:
            total = totals.setdefault(row.hour, [0, 0.0, 0.0])
            total[0] += row.completed
            total[1] += row.latency_sum
            total[2] = max(total[2], row.latency_max or 0.0)
    by_hour = {hour: (seconds / completed, worst) for hour, (completed, seconds, worst) in totals.items()}
    chart = Chart(legend=[("average", "#2f5bd3"), ("worst", "#b42318")])
    top_value = max([worst for _, worst in by_hour.values()] + [0])
    chart.empty = not by_hour
    top_value = max(top_value, 1.0)
    step = _frame(chart, hours, top_value, " s")
    scale = (chart.bottom - chart.top) / top_value
    for label, colour, pick in (("average", "#2f5bd3", 0), ("worst", "#b42318", 1)):
        points = [f"{chart.left + step * index + step / 2:.1f},{chart.bottom - by_hour[hour][pick] * scale:.1f}"
                  for index, hour in enumerate(hours) if hour in by_hour]
        if points:
            chart.lines.append({"points": " ".join(points), "colour": colour, "label": label})
    return chart
