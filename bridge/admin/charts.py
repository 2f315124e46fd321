"""The overview's charts, drawn on the server as SVG (no script, so the CSP stays strict).

* events received per hour over the last 24 hours, stacked by their current status;
* delivery latency per hour (received -> delivered): average and worst.

Both are one GROUP BY query each, bucketed by hour in SQL (``date_trunc`` on PostgreSQL,
``strftime`` on SQLite). Colours are SVG presentation attributes, not ``style``, which a
strict ``style-src 'self'`` would block.

Failure policy: database errors propagate to the page like the overview's other queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bridge.events.models import Event, EventStatus, utcnow

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


def _hour_key(session):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.date_trunc("hour", Event.received_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", Event.received_at)


def _seconds(session):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Event.completed_at - Event.received_at)
    return (func.julianday(Event.completed_at) - func.julianday(Event.received_at)) * 86400.0


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


def events_per_hour(session, now: datetime | None = None) -> Chart:
    now = now or utcnow()
    hours = _hours(now)
    since = datetime.strptime(hours[0], "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
    key = _hour_key(session)
    rows = session.execute(select(key, Event.status, func.count()).where(Event.received_at >= since)
                           .group_by(key, Event.status)).all()
    counts: dict[str, dict[str, int]] = {hour: {} for hour in hours}
    for hour, status, count in rows:
        if hour in counts:
            counts[hour][status] = count
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


def delivery_latency(session, now: datetime | None = None) -> Chart:
    now = now or utcnow()
    hours = _hours(now)
    since = datetime.strptime(hours[0], "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
    key, seconds = _hour_key(session), _seconds(session)
    rows = session.execute(select(key, func.avg(seconds), func.max(seconds))
                           .where(Event.received_at >= since, Event.status == EventStatus.DELIVERED,
                                  Event.completed_at.is_not(None))
                           .group_by(key)).all()
    by_hour = {hour: (float(avg or 0), float(worst or 0)) for hour, avg, worst in rows}
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
