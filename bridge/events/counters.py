"""Folded metric counts: what `/metrics` reads instead of scanning all of history.

A count is `metric_counts` (what the worker has folded) plus the rows not folded yet,
which two partial indexes keep cheap to find: events whose status is not the one they
are counted under (`events.counted_status`: new, unfinished, or replayed since), and
attempts not yet counted (`attempts.counted`). Both parts are read in ONE statement, so a
fold that commits during a scrape is seen either entirely or not at all. Ingest writes
nothing here: a new event is simply "not folded yet".

Folding (`fold`, called by the worker's `Folder` thread) takes a batch of finished,
unfolded rows, marks them and adds their deltas in the same transaction. A replayed event
needs no hook: its status no longer equals `counted_status`, so it is counted live again
(minus its old folded status) until it finishes and is folded anew. Retention deletes
folded attempts and subtracts them in the same transaction (`forget_attempts`), so the
counts stay equal to a full scan, as they were when /metrics scanned.

Several workers: each fold first takes a lock (PostgreSQL: a transaction advisory lock,
then `FOR UPDATE SKIP LOCKED` on the rows so a replay in flight is left for later; SQLite:
the database's write lock, taken by the first statement), so no row is counted twice.

Failure policy: a failed fold rolls back whole (nothing counted, nothing marked) and is
tried again at the next run; the scrape stays exact meanwhile, only slower.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict

from sqlalchemy import Float, String, case, cast, func, literal, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bridge.events import call_outcomes
from bridge.events.models import (
    UNCOUNTED_ATTEMPTS_SQL,
    UNCOUNTED_EVENTS_SQL,
    Attempt,
    Event,
    EventStatus,
    MetricCount,
)

log = logging.getLogger(__name__)

EVENTS, ATTEMPTS, LATENCY = "events", "attempts", "latency"  # metric_counts.family
# Seconds; Kustomer answers hooks in ~100-500 ms, the tail is retries and timeouts.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNT, SUM_MS = "count", "sum_ms"  # latency rows besides the buckets (label2 = repr(le))
ALL, OK, LOOKUP_MISS = "all", "ok", "lookup_miss"  # attempts rows; error = all - ok - miss
BATCH = 1000
EVERY_SECONDS = 5.0
_LOCK_KEY = 0x6B6F6B63  # pg_advisory_xact_lock key for folding

_uncounted_events = text(f"({UNCOUNTED_EVENTS_SQL})")  # parenthesised: it is ANDed with more
_uncounted_attempts = text(f"({UNCOUNTED_ATTEMPTS_SQL})")


# Both partial indexes cover every column these queries read, and no query here orders by
# id, so SQLite's planner takes them even when its statistics are stale (say, taken before a
# big fold). `status || ''`, not `status`: otherwise SQLite picks (status, received_at) for
# "status IN (...)" and reads every finished event.
_status_unindexed = Event.status.concat("")


def _outcome_columns():
    return (case((call_outcomes.OK, 1), else_=0), case((call_outcomes.LOOKUP_MISS, 1), else_=0))


def le_label(bound: float) -> str:
    return repr(float(bound))


# -- reading ----------------------------------------------------------------------------

def read(session) -> dict[tuple[str, str, str], float]:
    """Every count as {(family, label1, label2): value}, folded + unfolded, in one statement.

    events: (resource_type or "", status); attempts: (action, all|ok|lookup_miss);
    latency: (action, count|sum_ms|repr(le)).
    """
    ok, miss = _outcome_columns()

    def row(family, label1, label2, value):
        return (literal(family, String), cast(label1, String), cast(label2, String), cast(value, Float))

    rt = func.coalesce(Event.resource_type, "")
    parts = [
        select(MetricCount.family, MetricCount.label1, MetricCount.label2, MetricCount.value),
        select(*row(EVENTS, rt, Event.status, func.count())).where(_uncounted_events)
        .group_by(Event.resource_type, Event.status),
        select(*row(EVENTS, rt, Event.counted_status, -func.count()))
        .where(_uncounted_events, Event.counted_status.is_not(None))
        .group_by(Event.resource_type, Event.counted_status),
    ]
    uncounted = [_uncounted_attempts]
    timed = [_uncounted_attempts, Attempt.latency_ms.is_not(None)]
    for label, value in ((ALL, func.count()), (OK, func.sum(ok)), (LOOKUP_MISS, func.sum(miss))):
        parts.append(select(*row(ATTEMPTS, Attempt.action_key, literal(label), value))
                     .where(*uncounted).group_by(Attempt.action_key))
    for label, value in [(COUNT, func.count()), (SUM_MS, func.sum(Attempt.latency_ms))] + [
            (le_label(le), func.sum(case((Attempt.latency_ms <= le * 1000, 1), else_=0))) for le in LATENCY_BUCKETS]:
        parts.append(select(*row(LATENCY, Attempt.action_key, literal(label), value))
                     .where(*timed).group_by(Attempt.action_key))
    every = union_all(*parts).subquery()
    family, label1, label2, value = every.c
    rows = session.execute(select(family, label1, label2, func.sum(value)).group_by(family, label1, label2)).all()
    return {(f, l1, l2): float(v or 0) for f, l1, l2, v in rows}


# -- folding ----------------------------------------------------------------------------

def lock(session) -> None:
    """Serialise folders (and retention's subtraction) for the rest of this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:  # SQLite: an UPDATE takes the write lock even when it matches nothing
        session.execute(update(MetricCount).where(text("0 = 1")).values(value=MetricCount.value))


def fold(session, batch: int = BATCH) -> int:
    """Fold up to `batch` finished events and `batch` attempts; returns how many rows it folded."""
    lock(session)
    deltas: dict[tuple[str, str, str], float] = defaultdict(float)
    events = session.execute(
        select(Event.id, Event.resource_type, Event.status, Event.counted_status)
        .where(_uncounted_events, _status_unindexed.in_(EventStatus.FINAL))
        .limit(batch).with_for_update(skip_locked=True)
    ).all()
    for _id, resource_type, status, counted_status in events:
        deltas[(EVENTS, resource_type or "", status)] += 1
        if counted_status is not None:
            deltas[(EVENTS, resource_type or "", counted_status)] -= 1
    if events:
        session.execute(update(Event).where(Event.id.in_([row.id for row in events]))
                        .values(counted_status=Event.status, updated_at=Event.updated_at)
                        .execution_options(synchronize_session=False))
    attempts = _attempt_rows(session, select().where(_uncounted_attempts).limit(batch)
                             .with_for_update(skip_locked=True))
    _attempt_deltas(attempts, deltas, +1)
    if attempts:
        session.execute(update(Attempt).where(Attempt.id.in_([row[0] for row in attempts])).values(counted=True)
                        .execution_options(synchronize_session=False))
    add(session, deltas)
    return len(events) + len(attempts)


def forget_attempts(session, event_ids: list[int]) -> None:
    """Subtract the folded attempts of these events, which the caller is about to delete
    in this same transaction (retention)."""
    lock(session)
    rows = _attempt_rows(session, select().where(Attempt.event_id.in_(event_ids), Attempt.counted.is_(True)))
    deltas: dict[tuple[str, str, str], float] = defaultdict(float)
    _attempt_deltas(rows, deltas, -1)
    add(session, deltas)


def _attempt_rows(session, query) -> list:
    ok, miss = _outcome_columns()
    return session.execute(query.add_columns(Attempt.id, Attempt.action_key, ok, miss, Attempt.latency_ms)
                           .select_from(Attempt)).all()


def _attempt_deltas(rows, deltas, sign: int) -> None:
    for _id, action, ok, miss, latency_ms in rows:
        deltas[(ATTEMPTS, action, ALL)] += sign
        deltas[(ATTEMPTS, action, OK)] += sign * ok
        deltas[(ATTEMPTS, action, LOOKUP_MISS)] += sign * miss
        if latency_ms is None:
            continue
        deltas[(LATENCY, action, COUNT)] += sign
        deltas[(LATENCY, action, SUM_MS)] += sign * latency_ms
        for le in LATENCY_BUCKETS:
            if latency_ms <= le * 1000:
                deltas[(LATENCY, action, le_label(le))] += sign


def add(session, deltas: dict[tuple[str, str, str], float]) -> None:
    """Add each delta to its row: one upsert for all of them (a row may not exist yet), in
    key order, so two transactions adding to the same rows lock them in the same order."""
    rows = [{"family": family, "label1": label1, "label2": label2, "value": value}
            for (family, label1, label2), value in sorted(deltas.items()) if value]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(MetricCount).values(rows)
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=[MetricCount.family, MetricCount.label1, MetricCount.label2],
        set_={"value": MetricCount.value + statement.excluded.value}))


def fold_all(db, stopped: threading.Event | None = None, pause: float = 0.0) -> int:
    """Fold batch after batch until it has caught up; returns how many rows were folded.

    Caught up means a batch came back short of BATCH (of events and of attempts alike), not
    empty: while a worker keeps finishing events, "until nothing is left" never came, and the
    Folder folded a handful of rows every `pause` (50 ms), each fold's fixed cost and SQLite
    write lock paid twenty times a second; measured in the e2e benchmark at 50 events/s, that
    thread cost 1.6-2.2 ms of CPU per event, against 0.15-0.3 ms folded every EVERY_SECONDS.
    What arrives meanwhile waits for the next run (the scrape counts it live until then)."""
    total = 0
    while not (stopped and stopped.is_set()):
        with db.session() as session:
            folded = fold(session)
        total += folded
        # Fewer rows in all than one batch: neither part can have filled its own, so nothing
        # more was there. (Both short but together a batch or more costs one fold more.)
        if folded < BATCH:
            break
        if stopped is not None and pause:
            stopped.wait(pause)
    return total


class Folder(threading.Thread):
    """Runs `fold_all` every EVERY_SECONDS in the worker process (see the failure policy)."""

    def __init__(self, db):
        super().__init__(name="bridge-counters", daemon=True)
        self.db = db
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                fold_all(self.db, self.stopped, pause=0.05)  # short pauses: ingest gets the write lock
            except Exception:  # noqa: BLE001 - see the failure policy
                log.warning("counters: folding failed; trying again later", exc_info=True)
            self.stopped.wait(EVERY_SECONDS)

    def stop(self) -> None:
        self.stopped.set()
