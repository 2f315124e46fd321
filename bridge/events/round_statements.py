"""The statements a worker round runs, built once per process, with every value bound.

Why: SQLAlchemy caches a statement's compiled SQL under a key it computes from the statement's
structure. A statement built anew on every call (`update(Event).where(...).values(...)`)
coerces each clause and computes that key all over again; measured, that was about half of a
worker round's CPU (issue 16, docs/design-notes.md "A worker round in a few round trips").
Built once, a statement keeps its key (SQLAlchemy memoizes it on the object), so a round pays
for executing it and nothing else: the values travel as bound parameters, named `p_*` (a
bound name equal to a column name is reserved by SQLAlchemy in INSERT and UPDATE).

Each builder is cached (`functools.cache`) on its arguments: the dialect where the SQL
differs, and the variant. `bridge.events.store` executes them; their docstrings say what each
does. The conditions they share are defined here once, as functions of the values they
compare (`holds`, `older_unfinished`, `newer_delivered`, `runnable`, `due`), and the statements
apply them to bound parameters: this module imports only the models, and `store` imports it.

Failure policy: none here; these only build statements. Executing them raises what the
database raises, and the callers' policies apply.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, exists, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bridge.events.models import UNFINISHED_SQL, Action, Attempt, Event, EventStatus, Ticket, UTCDateTime

# What a worker round reads of its event: the claim returns these, so the round does not load
# the row again (bridge.delivery.processor).
ROUND_COLUMNS = (Event.id, Event.webhook_id, Event.body, Event.attempts, Event.errors, Event.resource_type,
                 Event.subscriber_id, Event.resource_id, Event.sequence_key)


def _param(name: str, column):
    """A bound parameter typed like `column`, so its value is converted as the column's."""
    return bindparam(name, type_=column.type)


NOW = bindparam("p_now", type_=UTCDateTime())


def claimed_values() -> dict:
    """What a claim writes (parameters: `store.claimed_params`): `processing`, leased until
    p_lease_until to the round holding p_token."""
    return dict(status=EventStatus.PROCESSING, lease_until=_param("p_lease_until", Event.lease_until),
                lease_token=_param("p_token", Event.lease_token), updated_at=NOW)


def runnable(now):
    """An event a worker may claim at `now` (a value or NOW): runnable and due, or `processing`
    with its lease run out."""
    return or_(
        and_(Event.status.in_(EventStatus.RUNNABLE),
             or_(Event.next_attempt_at.is_(None), Event.next_attempt_at <= now)),
        and_(Event.status == EventStatus.PROCESSING, Event.lease_until < now),
    )


def due(now):
    """Unfinished events a worker may take at `now`. The literal status test lets both
    databases use the partial index `ix_events_unfinished` (SQLite matches a partial index's
    WHERE only textually)."""
    return and_(text(UNFINISHED_SQL), runnable(now))


def first_due(now):
    """The id of the first event due at `now`, in the order of `ix_events_unfinished`."""
    return select(Event.id).where(due(now)).order_by(Event.next_attempt_at, Event.id).limit(1)


@functools.cache
def first_due_statement(for_update: bool = False):
    """`first_due` over p_now; with `for_update`, FOR UPDATE SKIP LOCKED (PostgreSQL's claim)."""
    query = first_due(NOW)
    return query.with_for_update(skip_locked=True) if for_update else query


@functools.cache
def claim_by_id():
    """`store.claim_round`: params p_id, p_now, p_lease_until, p_token."""
    return (update(Event).where(Event.id == bindparam("p_id"), runnable(NOW))
            .values(**claimed_values()).returning(*ROUND_COLUMNS))


@functools.cache
def claim_first_due():
    """`store.claim_first_due`, PostgreSQL's claim in one statement: params p_now,
    p_lease_until, p_token. `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)`,
    so concurrent workers never wait for each other."""
    return (update(Event).where(Event.id == first_due_statement(True).scalar_subquery())
            .values(**claimed_values()).returning(*ROUND_COLUMNS))


def holds(event_id, token) -> tuple:
    """The condition "the round holding `token` still has this event"."""
    return Event.id == event_id, Event.lease_token == token, Event.status == EventStatus.PROCESSING


def same_resource(event) -> tuple:
    """Conditions matching the events of the same Okendo resource (one review, ...)."""
    return (Event.resource_type == event.resource_type, Event.subscriber_id == event.subscriber_id,
            Event.resource_id == event.resource_id)


def older_unfinished(event, *columns):
    """An older event of the same Okendo resource that is still to be delivered."""
    return select(*(columns or (Event,))).where(
        *same_resource(event),
        # Same sequenceNumber = the same change delivered twice: the first stored goes first.
        or_(Event.sequence_key < event.sequence_key,
            and_(Event.sequence_key == event.sequence_key, Event.id < event.id)),
        Event.status.in_(EventStatus.UNFINISHED),
    ).order_by(Event.sequence_key).limit(1)


def newer_delivered(event, *columns):
    """A newer event of the same resource already relayed, or the same change (same
    sequenceNumber) relayed under another webhook id: this one is superseded."""
    return select(*(columns or (Event,))).where(
        *same_resource(event),
        Event.sequence_key >= event.sequence_key,
        Event.id != event.id,
        Event.status == EventStatus.DELIVERED,
    ).order_by(Event.sequence_key.desc()).limit(1)


# The claimed event's columns that `store.before_round` compares, as bound parameters.
_CLAIMED = SimpleNamespace(id=bindparam("p_id"), resource_type=bindparam("p_resource_type"),
                           subscriber_id=bindparam("p_subscriber_id"), resource_id=bindparam("p_resource_id"),
                           sequence_key=bindparam("p_sequence_key"))


@functools.cache
def before_round(ordered: bool, ticketed: bool):
    """`store.before_round`'s one SELECT: "recorded", with `ordered` "older" and "newer", with
    `ticketed` "ticketed" (the resource has a `tickets` row). Params: p_id; with `ordered`
    p_resource_type, p_subscriber_id, p_resource_id, p_sequence_key; with `ticketed`
    p_ticket_subscriber_id, p_ticket_resource_type, p_ticket_resource_id."""
    checks = [exists().where(Action.event_id == _CLAIMED.id).label("recorded")]
    if ordered:
        checks += [older_unfinished(_CLAIMED, Event.id).scalar_subquery().label("older"),
                   newer_delivered(_CLAIMED, Event.id).scalar_subquery().label("newer")]
    if ticketed:
        checks.append(exists().where(
            Ticket.subscriber_id == bindparam("p_ticket_subscriber_id"),
            Ticket.resource_type == bindparam("p_ticket_resource_type"),
            Ticket.resource_id == bindparam("p_ticket_resource_id")).label("ticketed"))
    return select(*checks)


def holding():
    """`holds` over bound parameters p_event_id and p_token."""
    return holds(bindparam("p_event_id"), bindparam("p_token"))


ACTION_COLUMNS = ("event_id", "key", "status", "result", "error", "updated_at")


@functools.cache
def record_action(dialect_name: str, fenced: bool):
    """`store.record_action`'s upsert: params p_event_id, p_key, p_status, p_result, p_error,
    p_updated_at, and with `fenced` p_token (inserted only while that round holds the event,
    whose row it locks FOR SHARE until commit)."""
    upsert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    values = [_param(f"p_{name}", Action.__table__.c[name]) for name in ACTION_COLUMNS]
    if fenced:
        source = select(*values).where(*holding()).with_for_update(read=True)
        statement = upsert(Action).from_select(list(ACTION_COLUMNS), source)
    else:
        statement = upsert(Action).values(dict(zip(ACTION_COLUMNS, values)))
    statement = statement.on_conflict_do_update(
        index_elements=[Action.event_id, Action.key],
        set_={name: statement.excluded[name] for name in ("status", "result", "error", "updated_at")})
    # SQLAlchemy reports an INSERT's rowcount only when asked to keep it.
    return statement.execution_options(preserve_rowcount=True)


@functools.cache
def record_attempts():
    """`store.record_attempts`'s INSERT, executed with one dict of Attempt columns per row."""
    return insert(Attempt)


@functools.cache
def finish(fenced: bool, with_errors: bool, count_attempt: bool):
    """`store.finish`'s UPDATE: params p_event_id, p_status, p_error, p_next_attempt_at, p_now,
    p_completed_at, with `with_errors` p_errors, with `fenced` p_token."""
    values = dict(
        status=_param("p_status", Event.status),
        last_error=_param("p_error", Event.last_error),
        next_attempt_at=_param("p_next_attempt_at", Event.next_attempt_at),
        lease_until=None,
        lease_token=None,
        updated_at=NOW,
        completed_at=_param("p_completed_at", Event.completed_at),
    )
    if with_errors:
        values["errors"] = _param("p_errors", Event.errors)
    if count_attempt:
        values["attempts"] = Event.attempts + 1
    where = holding() if fenced else (Event.id == bindparam("p_event_id"),)
    return update(Event).where(*where).values(**values)


@functools.cache
def renew_lease():
    """`store.renew_lease`'s UPDATE: params p_event_id, p_token, p_lease_until; changes the
    row only while the round holding p_token has the event (the lease's fence)."""
    return update(Event).where(*holding()).values(lease_until=_param("p_lease_until", Event.lease_until))
