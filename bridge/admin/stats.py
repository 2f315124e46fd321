"""The overview page's numbers, read through :mod:`bridge.events.overview` (the queries live
in the events layer; this module only shapes them for the page), nothing cached.

Failure policy: database errors propagate (the page answers 500 and the error is
logged); the queue and the mapping are reported as "unavailable"/"invalid" instead,
because the overview is where an admin goes to find out that they are broken.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bridge.delivery import retention
from bridge.events import overview as queries
from bridge.events.models import EventStatus, utcnow

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@dataclass
class Window:
    label: str
    by_status: dict[str, int]
    by_type: dict[str, int]
    delivered: int
    dead: int
    attempts: int
    attempts_ok: int
    lookup_misses: int = 0  # 404s to lookups: expected, not failures (see call_outcomes)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def success_rate(self) -> float | None:
        """Share of events that reached delivered among those that reached delivered or dead."""
        finished = self.delivered + self.dead
        return self.delivered / finished if finished else None

    @property
    def attempt_success_rate(self) -> float | None:
        """Share of Kustomer calls that worked: 2xx, or a lookup that found nothing yet."""
        return (self.attempts_ok + self.lookup_misses) / self.attempts if self.attempts else None


@dataclass
class Overview:
    windows: list[Window] = field(default_factory=list)
    dead_waiting: int = 0
    oldest_pending_age: float | None = None
    queue_depth: int | None = None
    database_bytes: int | None = None
    oldest_event_age: float | None = None
    retention_days: float | None = None
    hourly: list[queries.HourRow] = field(default_factory=list)  # the last day's, for the charts


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything the bridge stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def window(label: str, by_status: dict[str, int], by_type: dict[str, int],
           attempts: tuple[int, int, int]) -> Window:
    statuses = {status: 0 for status in EventStatus.ALL}
    statuses.update(by_status)
    total, ok, misses = attempts
    return Window(label, statuses, by_type, delivered=statuses[EventStatus.DELIVERED],
                  dead=statuses[EventStatus.DEAD], attempts=total, attempts_ok=ok, lookup_misses=misses)


def overview(runtime, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    result = Overview(queue_depth=runtime.dispatcher.depth())
    with runtime.db.session() as session:
        hour_since, day_since = now - HOUR, now - DAY
        result.hourly = queries.hourly_since(session, day_since)  # the day, and the charts
        result.windows = [
            window("last hour", *queries.counts_since(session, hour_since),
                   queries.attempts_since(session, hour_since)),
            window("last day", *queries.totals(result.hourly), queries.attempts_since(session, day_since)),
        ]
        result.dead_waiting = queries.dead_waiting(session)
        oldest = as_utc(queries.oldest_unfinished_received_at(session))
        _storage(session, result, now, runtime.settings)
    if oldest is not None:
        result.oldest_pending_age = max(0.0, (now - oldest).total_seconds())
    return result


def _storage(session, result: Overview, now: datetime, settings) -> None:
    """Database size and the oldest event kept: what retention (bridge.delivery.retention) bounds."""
    result.database_bytes = retention.database_size(session)
    oldest = as_utc(retention.oldest_event(session))
    result.oldest_event_age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    result.retention_days = settings.retention_days
