"""The console overview's reads: counts over a recent window and per hour, nothing cached.

Every figure is a count over the events (or attempts) received (started) since a moment,
so it equals a full count by construction; what keeps it cheap at any history size is
that each query reads only the window, along an index that holds every column it needs
(`ix_events_window`: status, received_at, resource_type, completed_at; `ix_attempts_window`:
started_at, status_code, method), so neither the table nor older history is touched.
Each window is read once: the last day's statuses, types, hourly counts and delivery
latencies come from one scan (:func:`hourly_since`), the last hour's from another.

Failure policy: database errors propagate (the page answers 500 and the error is logged).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, func, literal_column, select, text

from bridge.events import call_outcomes, store
from bridge.events.models import Attempt, Event, EventStatus

UNKNOWN_TYPE = "(unknown)"


@dataclass(frozen=True)
class HourRow:
    """One hour's events of one status and type: how many, and the delivery latency of
    those that completed (seconds from received to completed)."""

    hour: str  # "YYYY-MM-DD HH", UTC
    status: str
    resource_type: str  # "(unknown)" for None
    count: int
    completed: int
    latency_sum: float
    latency_max: float | None


def counts_since(session, since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Events received since `since`, by status and by resource type (None as
    "(unknown)"), from one read of the window; types most frequent first."""
    # Grouped by the label, not the column: by the column, SQLite reads all of history along
    # the (resource_type, ...) index instead of only the window along ix_events_window.
    type_label = func.coalesce(Event.resource_type, UNKNOWN_TYPE).label("type_label")
    rows = session.execute(
        select(Event.status, type_label, func.count())
        .where(*store.received_since(since)).group_by(Event.status, literal_column("type_label"))
    ).all()
    return totals([HourRow("", status, label, count, 0, 0.0, None) for status, label, count in rows])


def attempts_since(session, since: datetime) -> tuple[int, int, int]:
    """Kustomer calls started since `since`: (all, 2xx, lookup misses)."""
    ok = case((call_outcomes.OK, 1), else_=0)
    miss = case((call_outcomes.LOOKUP_MISS, 1), else_=0)
    attempts, attempts_ok, misses = session.execute(
        select(func.count(), func.coalesce(func.sum(ok), 0), func.coalesce(func.sum(miss), 0))
        .where(Attempt.started_at >= since)
    ).one()
    return attempts, int(attempts_ok), int(misses)


def hourly_since(session, since: datetime) -> list[HourRow]:
    """Events received since `since`, per UTC hour, status and type, with their delivery
    latency: everything the overview shows about a day, from one read of the window."""
    if session.get_bind().dialect.name == "postgresql":
        # The hour as a number (epoch hours, UTC whatever the session's time zone), and
        # seconds as float arithmetic: date_trunc on a timestamptz, to_char and extract()
        # (numeric) cost more per row than the scan itself.
        hour = func.floor(func.date_part("epoch", Event.received_at) / 3600)
        seconds = func.date_part("epoch", Event.completed_at - Event.received_at)
        # The planner cannot tell an hour bucket holds thousands of rows, expects as many
        # groups as rows and, in the default 4 MB, sorts them on disk; 24 × statuses ×
        # types groups fit in a hash table in far less than this.
        session.execute(text("SET LOCAL work_mem = '32MB'"))
    else:
        hour = func.strftime("%Y-%m-%d %H", Event.received_at)
        seconds = (func.julianday(Event.completed_at) - func.julianday(Event.received_at)) * 86400.0
    type_label = func.coalesce(Event.resource_type, UNKNOWN_TYPE).label("type_label")
    rows = session.execute(
        select(hour, Event.status, type_label, func.count(), func.count(seconds), func.sum(seconds),
               func.max(seconds))
        .where(*store.received_since(since)).group_by(hour, Event.status, literal_column("type_label"))
    ).all()
    return [HourRow(_hour_text(key), status, label, count, completed, float(total or 0),
                    None if worst is None else float(worst))
            for key, status, label, count, completed, total, worst in rows]


def totals(rows: list[HourRow]) -> tuple[dict[str, int], dict[str, int]]:
    """:func:`hourly_since`'s rows summed by status and by type (types most frequent first)."""
    by_status: dict[str, int] = {}
    by_type: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + row.count
        by_type[row.resource_type] = by_type.get(row.resource_type, 0) + row.count
    return by_status, dict(sorted(by_type.items(), key=lambda item: -item[1]))


def _hour_text(key) -> str:
    """"YYYY-MM-DD HH" (UTC) from SQLite's strftime text or PostgreSQL's epoch hours."""
    if isinstance(key, str):
        return key
    return datetime.fromtimestamp(int(key) * 3600, timezone.utc).strftime("%Y-%m-%d %H")


def dead_waiting(session) -> int:
    """Dead events waiting for a person (replay or dismissal), at any age."""
    return session.execute(
        select(func.count()).select_from(Event).where(Event.status == EventStatus.DEAD)).scalar_one()


def oldest_unfinished_received_at(session) -> datetime | None:
    """When the oldest event still to run was received (None: nothing waits)."""
    return store.oldest_unfinished_received_at(session)
