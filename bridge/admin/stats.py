"""The overview page's numbers: a few aggregate queries, nothing cached.

Failure policy: database errors propagate (the page answers 500 and the error is
logged); the queue and the mapping are reported as "unavailable"/"invalid" instead,
because the overview is where an admin goes to find out that they are broken.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, literal_column, select

from bridge.delivery import retention
from bridge.events import call_outcomes, store
from bridge.events.models import Attempt, Event, EventStatus, utcnow

WINDOWS = (("last hour", timedelta(hours=1)), ("last day", timedelta(days=1)))


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


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything the bridge stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def window(session, label: str, since: datetime) -> Window:
    by_status = {status: 0 for status in EventStatus.ALL}
    by_status.update(store.count_by_status(session, since))
    # Grouped by the label, not the column: by the column, SQLite reads all of history along
    # the (resource_type, ...) index instead of only the window along (status, received_at).
    type_label = func.coalesce(Event.resource_type, "(unknown)").label("type_label")
    by_type = dict(session.execute(
        select(type_label, func.count())
        .where(*store.received_since(since)).group_by(literal_column("type_label")).order_by(func.count().desc())
    ).all())
    ok = case((call_outcomes.OK, 1), else_=0)
    miss = case((call_outcomes.LOOKUP_MISS, 1), else_=0)
    attempts, attempts_ok, misses = session.execute(
        select(func.count(), func.coalesce(func.sum(ok), 0), func.coalesce(func.sum(miss), 0))
        .where(Attempt.started_at >= since)
    ).one()
    return Window(label, by_status, by_type, delivered=by_status[EventStatus.DELIVERED],
                  dead=by_status[EventStatus.DEAD], attempts=attempts, attempts_ok=int(attempts_ok),
                  lookup_misses=int(misses))


def overview(runtime) -> Overview:
    now = utcnow()
    result = Overview(queue_depth=runtime.dispatcher.depth())
    with runtime.db.session() as session:
        result.windows = [window(session, label, now - span) for label, span in WINDOWS]
        result.dead_waiting = session.execute(
            select(func.count()).select_from(Event).where(Event.status == EventStatus.DEAD)).scalar_one()
        oldest = as_utc(store.oldest_unfinished_received_at(session))
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
