"""Reading and changing events: every statement that writes an event's status is here.

They are: the insert of a new event (`store_event`; the webhook's own insert runs the same
`insert_statement` on a bare DBAPI connection, in `bridge.events.event_insert`), the claim
(`claim_round`, and on PostgreSQL `claim_first_due`), the renewal of a claim's lease
(`renew_lease`), a round's outcome (`finish`, `record_action(s)`, `record_attempts`) and a
replay (`reset_for_replay`). The worker round's statements are built once, with bound values,
in `bridge.events.round_statements`. When they run is decided elsewhere: the claim loop in
`bridge.delivery.queue`, the lease's renewal and fencing in `bridge.delivery.lease`, the
round in `bridge.delivery.processor`.

Other modules read the events tables in queries of their own shape and change no status:
`overview`, `filters` and `counters` here (`counters` also marks what it has folded),
`bridge.delivery.retention` (it empties the bodies of old delivered and skipped events),
`bridge.delivery.replay`'s "why not replayed", the alert conditions and the mapping's impact
preview.

Concurrency model (several web processes and workers, SQLite or PostgreSQL):
- ingest relies on the UNIQUE `webhook_id`: of two copies arriving at once,
  exactly one INSERT stores a row (ON CONFLICT DO NOTHING); the other answers "duplicate";
- a worker *claims* an event with one conditional UPDATE (runnable status, or a
  `processing` lease that has expired) and proceeds only if it changed a row, so
  two workers never run one event at the same time, and a crashed worker's event
  is taken over when its lease runs out.
Failure policy: database errors propagate; callers decide (503 on ingest, retry
in the worker).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, NamedTuple, Sequence

from sqlalchemy import Connection, bindparam, delete, func, literal, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from bridge.events import round_statements
from bridge.events.models import Action, ActionStatus, Event, EventStatus, utcnow


def sequence_key(sequence_number: str | None) -> str | None:
    """Zero-pad a digit string so text order equals numeric order."""
    if sequence_number is None or not str(sequence_number).isdigit():
        return None
    return str(sequence_number).rjust(40, "0")[-40:]


@dataclass(frozen=True)
class Stored:
    event_id: int
    created: bool
    status: str


def store_event(session: Session | Connection, *, webhook_id: str, body: bytes, headers: dict, status: str,
                wake: str | None = None, **fields) -> Stored:
    """Insert an event, or find the one already stored under this webhook id. A pending
    event is due at once: `next_attempt_at` orders the queue (bridge.delivery.queue).

    `session` is an ORM session or a Core connection; the caller commits (or runs it in
    autocommit: it is one statement). `wake`: on PostgreSQL, the channel to notify when a
    pending event is stored, sent by the INSERT statement itself, so it goes out when that
    insert commits and costs no round trip of its own. The webhook itself stores through
    `bridge.events.event_insert`, the same statement on a bare DBAPI connection."""
    values = event_values(webhook_id=webhook_id, body=body, headers=headers, status=status, **fields)
    # One statement: a duplicate webhook id inserts nothing instead of failing, so there is
    # no savepoint to set and release around it (three round trips on PostgreSQL).
    connection = connection_of(session)
    dialect = connection.dialect.name
    event_id = connection.execute(insert_statement(dialect, wake_channel(dialect, status, wake)),
                                  values).scalar_one_or_none()
    if event_id is not None:
        return Stored(event_id, True, status)
    existing = connection.execute(
        select(Event.id, Event.status).where(Event.webhook_id == webhook_id)
    ).one()
    return Stored(existing.id, False, existing.status)


def event_values(*, webhook_id: str, body: bytes, headers: dict, status: str, **fields) -> dict:
    """Every column a new event's INSERT names (`INSERTED`), with its value."""
    now = utcnow()
    values = dict.fromkeys(INSERTED, None)
    values["errors"] = null()  # SQL NULL when not given (None given is stored as JSON null, as before)
    values.update(fields)
    if status == EventStatus.PENDING and values["next_attempt_at"] is None:
        values["next_attempt_at"] = now
    values.update(
        webhook_id=webhook_id,
        body=body,
        headers=headers,
        status=status,
        attempts=0,
        sequence_key=sequence_key(values["sequence_number"]),
        received_at=now,
        updated_at=now,
        completed_at=now if status in EventStatus.FINAL else None,
    )
    return values


# Every column an insert names, always the same set, each value a bound parameter: the
# statement is built and compiled once per process (SQLAlchemy caches the compilation).
# Building it with `.values(**values)` on each call instead coerced every value and made a
# cache key over all of them: measured, more than the INSERT itself costs on SQLite.
INSERTED = ("webhook_id", "body", "headers", "status", "attempts", "sequence_key", "received_at",
             "updated_at", "completed_at", "next_attempt_at", "resource_type", "topic", "subscriber_id",
             "resource_id", "sequence_number", "email", "errors", "last_error")


def wake_channel(dialect_name: str, status: str, wake: str | None) -> str | None:
    """The channel an INSERT of an event with `status` notifies: `wake` for a pending event on
    PostgreSQL (workers LISTEN there), None otherwise (nothing to do yet, or SQLite, whose
    workers watch the file)."""
    return wake if dialect_name == "postgresql" and status == EventStatus.PENDING else None


@functools.cache
def insert_statement(dialect_name: str, wake: str | None):
    """INSERT ... ON CONFLICT (webhook_id) DO NOTHING RETURNING id; with `wake`, inside
    `WITH stored AS (...) SELECT id, pg_notify(wake, '') FROM stored`: the notification is
    sent only when a row was inserted, in the insert's own transaction."""
    table = Event.__table__
    insert = (pg_insert if dialect_name == "postgresql" else sqlite_insert)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in INSERTED})
    insert = insert.on_conflict_do_nothing(index_elements=["webhook_id"]).returning(table.c.id)
    if wake is None:
        return insert
    stored = insert.cte("stored")
    return select(stored.c.id, func.pg_notify(literal(wake), literal("")))


def claim(session: Session, event_id: int, lease_seconds: float, now: datetime | None = None,
          token: str | None = None) -> str | None:
    """Take an event for processing and return its webhook id; None when it is final, leased
    by another worker, or not due. `token` names this round in the lease: the writes of the
    round are fenced with it (`bridge.delivery.lease`)."""
    claimed = claim_round(session, event_id, lease_seconds, now=now, token=token)
    return claimed.webhook_id if claimed is not None else None


def claim_round(session: Session, event_id: int, lease_seconds: float, now: datetime | None = None,
                token: str | None = None):
    """`claim`, returning the event's `round_statements.ROUND_COLUMNS` row (or None) for the round to run on."""
    now = now or utcnow()
    # Core on the session's connection, one statement built once (bridge.events.round_statements):
    # building it per call, and the ORM's update path, cost more than the statement (issue 16).
    return connection_of(session).execute(
        round_statements.claim_by_id(), claimed_params(lease_seconds, token, now) | {"p_id": event_id},
    ).one_or_none()


def claim_first_due(session: Session | Connection, lease_seconds: float, token: str, now: datetime | None = None):
    """PostgreSQL: claim the first due event in one statement (`round_statements.claim_first_due`),
    returning its `round_statements.ROUND_COLUMNS` row or None. One statement, so it may run in autocommit."""
    now = now or utcnow()
    return connection_of(session).execute(round_statements.claim_first_due(),
                                          claimed_params(lease_seconds, token, now)).one_or_none()


def first_due_id(session: Session | Connection, now: datetime | None = None) -> int | None:
    """The id of the first event due now, read without claiming it (SQLite's claim reads first,
    then claims with `claim_round`, so an idle worker does not take the write lock)."""
    return connection_of(session).execute(round_statements.first_due_statement(),
                                          {"p_now": now or utcnow()}).scalar_one_or_none()


def due_count(session: Session | Connection, now: datetime | None = None) -> int:
    """Events waiting for a worker now (the queue depth)."""
    return connection_of(session).execute(
        select(func.count()).select_from(Event).where(round_statements.due(now or utcnow()))).scalar_one()


def renew_lease(session: Session | Connection, event_id: int, token: str, lease_until: datetime) -> bool:
    """Extend the `processing` lease of the round holding `token` to `lease_until`; False, and
    nothing changed, when that round no longer holds the event (`bridge.delivery.lease`)."""
    params = {"p_event_id": event_id, "p_token": token, "p_lease_until": lease_until}
    return connection_of(session).execute(round_statements.renew_lease(), params).rowcount == 1


def claimed_params(lease_seconds: float, token: str | None, now: datetime) -> dict:
    """The parameters of a claim (`round_statements.claimed_values`): `processing`, leased
    for `lease_seconds` to the round holding `token`."""
    return {"p_now": now, "p_lease_until": now + timedelta(seconds=lease_seconds), "p_token": token}


def connection_of(session: Session | Connection) -> Connection:
    """The Core connection under `session` (an ORM session or already a connection)."""
    return session.connection() if isinstance(session, Session) else session


def _orm(session: Session | Connection) -> Session:
    """An ORM session over the same connection, for the rare reads that load whole rows."""
    return session if isinstance(session, Session) else Session(bind=session)


def finish(session: Session, event_id: int, status: str, *, error: str | None = None,
           next_attempt_at: datetime | None = None, count_attempt: bool = True,
           errors: dict | list | None = None, token: str | None = None) -> bool:
    """Record the outcome of one processing round. With `token` (the round's lease), only
    while that round still holds the event: False, and nothing changed, when it does not."""
    now = utcnow()
    params = {"p_event_id": event_id, "p_status": status, "p_error": error, "p_next_attempt_at": next_attempt_at,
              "p_now": now, "p_completed_at": now if status in EventStatus.FINAL else None}
    if errors is not None:
        params["p_errors"] = errors
    if token is not None:
        params["p_token"] = token
    statement = round_statements.finish(token is not None, errors is not None, count_attempt)
    return connection_of(session).execute(statement, params).rowcount == 1


def load(session: Session, event_id: int, with_history: bool = False) -> Event | None:
    query = select(Event).where(Event.id == event_id)
    if with_history:
        query = query.options(selectinload(Event.actions), selectinload(Event.delivery_attempts))
    return session.execute(query).scalar_one_or_none()


def recorded_actions(session: Session, event_id: int) -> dict[str, Action]:
    """{key: Action} for every action recorded for the event: done and failed alike."""
    rows = session.execute(select(Action).where(Action.event_id == event_id)).scalars()
    return {row.key: row for row in rows}


def record_action(session: Session, event_id: int, key: str, status: str,
                  result: dict | None = None, error: str | None = None, *, token: str | None = None) -> bool:
    """Upsert the outcome of one action (done | failed), in one statement.

    With `token` (a worker round's lease) the row is written only while that round holds the
    event, and the event row is locked until the transaction ends (FOR SHARE on PostgreSQL;
    on SQLite the write lock this statement takes): the fence is part of the write it guards
    (`bridge.delivery.lease`). Returns False, having written nothing, when the round does not
    hold the event."""
    params = {"p_event_id": event_id, "p_key": key, "p_status": status, "p_result": result, "p_error": error,
              "p_updated_at": utcnow()}
    if token is not None:
        params["p_token"] = token
    # Core on the session's connection, built once: the ORM's insert path costs more, and hides the rowcount.
    connection = connection_of(session)
    statement = round_statements.record_action(connection.dialect.name, token is not None)
    return connection.execute(statement, params).rowcount == 1


def record_actions(session: Session, event_id: int, rows: Iterable[tuple]) -> None:
    """Upsert several outcomes `(key, status, result, error)` in one execution, unfenced: for a
    transaction whose own fenced write already holds the event (the round's final UPDATE).
    One statement executed with many parameter sets: on PostgreSQL one round trip (psycopg's
    pipelined executemany), where one `record_action` each cost one apiece."""
    now = utcnow()
    params = [{"p_event_id": event_id, "p_key": key, "p_status": status, "p_result": result, "p_error": error,
               "p_updated_at": now} for key, status, result, error in rows]
    if params:
        connection = connection_of(session)
        connection.execute(round_statements.record_action(connection.dialect.name, False), params)


def record_attempts(session: Session, event_id: int, action_key: str, attempts: Iterable) -> None:
    """Add the HTTP calls of one action to the delivery log (one INSERT for all of them)."""
    rows = [dict(event_id=event_id, action_key=action_key, method=a.method, target=a.target,
                 status_code=a.status, latency_ms=a.latency_ms, error=a.error, started_at=a.started_at)
            for a in attempts]
    if rows:
        connection_of(session).execute(round_statements.record_attempts(), rows)


class BeforeRound(NamedTuple):
    """What `before_round` found for a claimed event."""

    older: Event | None  # an older unfinished event of the same resource: wait for it
    newer: Event | None  # a newer one already delivered: this one is superseded
    previous: dict[str, Action]  # `recorded_actions`
    ticketed: bool | None  # the resource has a `tickets` row (None: not asked)


def before_round(session: Session | Connection, event, ticket_of: tuple[str, str, str] | None = None) -> BeforeRound:
    """An older unfinished event, a newer delivered one and `recorded_actions` for a claimed
    event, in one statement when there is neither and nothing was recorded yet (the usual
    case): a worker round's reads cost one round trip. With `ticket_of` (subscriber id,
    resource type, resource id), the same statement also says whether that resource has a
    `tickets` row (`bridge.delivery.tickets` then need not read it for an event that wants no ticket).

    The decision is the one statement's: the rows it found are then read by primary key, not
    looked up again by their conditions. The reads run in autocommit, so a second lookup sees
    a later snapshot, and between the two an older event could finish: the first statement saw
    it unfinished (so no newer delivered event either), the second no longer found it, and the
    event went ahead although the same change had just been relayed (the same sequenceNumber
    under another webhook id, relayed twice)."""
    ordered = bool(event.resource_id and event.sequence_key)
    params = {"p_id": event.id}
    if ordered:
        params.update(p_resource_type=event.resource_type, p_subscriber_id=event.subscriber_id,
                      p_resource_id=event.resource_id, p_sequence_key=event.sequence_key)
    if ticket_of is not None:
        params.update(zip(("p_ticket_subscriber_id", "p_ticket_resource_type", "p_ticket_resource_id"), ticket_of))
    statement = round_statements.before_round(ordered, ticket_of is not None)
    found = connection_of(session).execute(statement, params).one()
    older = newer = None
    if found.recorded or (ordered and (found.older is not None or found.newer is not None)):
        orm = _orm(session)
        if ordered and found.older is not None:
            older = orm.get(Event, found.older)
        if ordered and found.newer is not None:
            newer = orm.get(Event, found.newer)
    previous = recorded_actions(orm, event.id) if found.recorded else {}
    return BeforeRound(older, newer, previous, bool(found.ticketed) if ticket_of is not None else None)


# Key in a delivered event's `errors`: the actions it could not do then (e.g. a timeline card
# before its klass existed). A replay takes such an event up again for those actions alone.
NOT_DONE = "_not_done"


def with_not_done(errors: dict | list | None, keys: Sequence[str]) -> dict | list | None:
    """`errors` with its NOT_DONE entry replaced by `keys` (dropped when there are none);
    whatever else it records (e.g. repaired text) is kept."""
    if not isinstance(errors, dict):
        return {NOT_DONE: list(keys)} if keys else errors
    kept = {key: value for key, value in errors.items() if key != NOT_DONE}
    return {**kept, NOT_DONE: list(keys)} if keys else kept


def reset_for_replay(session: Session, event_ids: Sequence[int]) -> list[int]:
    """Make events runnable again. Done actions stay done; failed ones are tried afresh.

    An event being processed right now is left alone (its worker owns it), and so is a
    delivered one whose every action is done: a replay has nothing to redo, and running it
    again could only rewrite its history. A delivered event with actions it could not do
    then (`NOT_DONE`) is taken up again for those; what it did stays done.
    `bridge.delivery.replay.not_replayed` says why an id was left alone.
    """
    now = utcnow()
    ids = [event_id for event_id, status, errors in session.execute(
        select(Event.id, Event.status, Event.errors).where(
            Event.id.in_(event_ids), Event.status != EventStatus.PROCESSING,
            # a body pruned by retention (bridge.delivery.retention) cannot be run again
            func.length(Event.body) > 0))
           if status != EventStatus.DELIVERED or (isinstance(errors, dict) and errors.get(NOT_DONE))]
    if not ids:
        return []
    session.execute(delete(Action).where(Action.event_id.in_(ids), Action.status == ActionStatus.FAILED))
    session.execute(
        update(Event).where(Event.id.in_(ids)).values(
            status=EventStatus.PENDING, next_attempt_at=now, lease_until=None, lease_token=None,
            completed_at=None, updated_at=now, attempts=0,
        )
    )
    return ids


def list_events(session: Session, *, limit: int = 50, offset: int = 0, **conditions) -> list[Event]:
    """Newest first; `conditions` are `filter_events`'s."""
    query = select(Event).order_by(Event.id.desc()).limit(limit).offset(offset)
    return list(session.execute(filter_events(query, **conditions)).scalars())


def filter_events(query, *, status: str | None = None, since: datetime | None = None,
                  resource_type: str | None = None, topic: str | None = None,
                  subscriber_id: str | None = None, search: str | None = None):
    """The events list's conditions (empty ones left out), on any select over Event: the one
    definition the console's list, count and bulk replay and the CLI share."""
    for column, value in ((Event.status, status), (Event.resource_type, resource_type),
                          (Event.topic, topic), (Event.subscriber_id, subscriber_id)):
        if value:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Event.received_at >= since)
    if search:
        query = query.where(matching(search))
    return query


def matching(search: str):
    """The console's and the CLI's search condition. A whole email address is looked up in the
    email index (and as a webhook id): the same cost with ten million events as with none.
    Anything else is a substring search over the ids and the address, which reads every row."""
    text = search.strip()
    if _COMPLETE_EMAIL.match(text):
        return or_(Event.email.in_({text, text.lower()}), Event.webhook_id == text)
    like = f"%{text}%"
    return or_(Event.webhook_id.like(like), Event.resource_id.like(like),
               Event.email.like(like), Event.subscriber_id.like(like))


_COMPLETE_EMAIL = re.compile(r"^[^@\s%_]+@[^@\s%_]+\.[^@\s%_]+$")


def count_by_status(session: Session, since: datetime | None = None) -> dict[str, int]:
    query = select(Event.status, func.count()).group_by(Event.status)
    if since is not None:
        query = query.where(*received_since(since))
    return {status: count for status, count in session.execute(query)}


def received_since(since: datetime) -> tuple:
    """Events received since `since`, written so the index led by (status, received_at)
    (`ix_events_window`) reads only that window: one range per status, not the whole table."""
    return (Event.status.in_(EventStatus.ALL), Event.received_at >= since)


def oldest_unfinished_received_at(session: Session) -> datetime | None:
    return session.execute(
        select(func.min(Event.received_at)).where(Event.status.in_(EventStatus.UNFINISHED))
    ).scalar_one_or_none()

