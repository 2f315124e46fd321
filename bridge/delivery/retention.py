"""Retention: prune what old delivered and skipped events no longer need, in small batches.

`BRIDGE_RETENTION_DAYS` (default 30; 0 keeps everything) bounds how long the raw body and
the delivery attempts of a `delivered` or `skipped` event are kept. The event row itself
stays (a few hundred bytes): its unique `webhook_id` is what recognises a late duplicate
from Okendo, and its summary (status, resource, email, outcome) still answers "what
happened to this review?". `dead` and `invalid` events are never pruned: they wait for an
admin to replay or dismiss them. A pruned event's body is empty (a genuine body never is:
an empty one is not JSON and is kept as `invalid`), so it cannot be replayed.

Pruning runs in the worker (`Pruner`, one thread), `BATCH` events per short transaction with
a pause between batches, so it never holds SQLite's write lock or PostgreSQL row locks for
long enough to delay ingest. Failure policy: a failed batch is logged and tried again at the
next run; nothing else depends on pruning.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import delete, func, select, text, update

from bridge.events import counters
from bridge.events.models import Attempt, Event, EventStatus, utcnow

log = logging.getLogger(__name__)

PRUNABLE = (EventStatus.DELIVERED, EventStatus.SKIPPED)
BATCH = 200
PAUSE_SECONDS = 0.2  # between batches: ingest gets the database in between
EVERY_SECONDS = 600.0


def prune_batch(session, retention_days: float, after_id: int = 0, now=None) -> tuple[int, int]:
    """Prune up to BATCH events; returns (how many, the highest id looked at) so the next batch
    starts after it instead of reading pruned rows again."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    rows = session.execute(
        select(Event.id, func.length(Event.body))
        .where(Event.id > after_id, Event.status.in_(PRUNABLE), Event.received_at < cutoff,
               Event.completed_at < cutoff)
        .order_by(Event.id).limit(BATCH)
    ).all()
    if not rows:
        return 0, after_id
    ids = [row.id for row in rows if row[1]]
    if ids:
        counters.forget_attempts(session, ids)  # the counts stay equal to what is stored
        session.execute(delete(Attempt).where(Attempt.event_id.in_(ids)))
        session.execute(update(Event).where(Event.id.in_(ids), Event.status.in_(PRUNABLE))
                        .values(body=b"").execution_options(synchronize_session=False))
    return len(ids), rows[-1].id


def prune(db, retention_days: float, stopped: threading.Event | None = None, after_id: int = 0) -> tuple[int, int]:
    """Prune everything due, batch by batch; returns (events pruned, the last id looked at)."""
    total = 0
    while not (stopped and stopped.is_set()):
        with db.session() as session:
            pruned, last = prune_batch(session, retention_days, after_id)
        total += pruned
        if last == after_id:
            break
        after_id = last
        if stopped is not None:
            stopped.wait(PAUSE_SECONDS)
    return total, after_id


class Pruner(threading.Thread):
    """Runs `prune` every EVERY_SECONDS in the worker process."""

    def __init__(self, db, retention_days: float):
        super().__init__(name="bridge-retention", daemon=True)
        self.db, self.retention_days = db, retention_days
        self.stopped = threading.Event()
        # Each run starts a day before where the last one stopped, not at the first event, so it
        # does not read the pruned history again. An event that finished later than that (a
        # replay weeks after) waits for the first run after the worker's next start.
        self._resume_from = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                pruned, last = prune(self.db, self.retention_days, self.stopped, self._resume_from)
                if pruned:
                    log.info("retention: pruned the bodies and attempts of %d event(s) older than %g days",
                             pruned, self.retention_days)
                self._resume_from = _a_day_before(self.db, last)
            except Exception:  # noqa: BLE001 - see the failure policy
                log.warning("retention: pruning failed; trying again later", exc_info=True)
            self.stopped.wait(EVERY_SECONDS)

    def stop(self) -> None:
        self.stopped.set()


def _a_day_before(db, last_id: int) -> int:
    """An id safely before anything that may have become prunable since `last_id` was read
    (events finish in any order, but not days apart from their neighbours by id)."""
    if not last_id:
        return 0
    with db.session() as session:
        received = session.execute(select(Event.received_at).where(Event.id == last_id)).scalar_one_or_none()
        if received is None:
            return 0
        earlier = session.execute(select(Event.id).where(
            Event.id < last_id, Event.received_at < received - timedelta(days=1))
            .order_by(Event.id.desc()).limit(1)).scalar_one_or_none()
    return earlier or 0


def database_size(session) -> int | None:
    """Bytes the event store takes on disk (the whole database), or None if unknown."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    if dialect == "sqlite":
        pages = session.execute(text("PRAGMA page_count")).scalar_one()
        size = session.execute(text("PRAGMA page_size")).scalar_one()
        return pages * size
    return None


def oldest_event(session):
    """When the oldest event kept was received (by id: the primary key, no scan)."""
    return session.execute(select(Event.received_at).order_by(Event.id).limit(1)).scalar_one_or_none()
