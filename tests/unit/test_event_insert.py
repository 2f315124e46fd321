"""The webhook's INSERT on a bare DBAPI connection stores what `store.store_event` stores.

On SQLite and, with TEST_DATABASE_URL, on PostgreSQL: the same row, column by column, as the
SQLAlchemy path writes; a duplicate webhook id stores nothing and names the first event; a
database error is a SQLAlchemyError (the webhook answers 503) and leaves the pool usable.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.delivery import queue
from bridge.events import event_insert, store
from bridge.events.models import EventStatus

FIELDS = dict(resource_type="review", topic="created", subscriber_id="sub-1", resource_id="rev-1",
              sequence_number="42", email="jane@example.com")
COMPARED = ("webhook_id", "body", "headers", "resource_type", "topic", "subscriber_id", "resource_id",
            "sequence_number", "sequence_key", "email", "status", "errors", "attempts", "last_error",
            "lease_until", "lease_token", "counted_status")


def raw_row(runtime, webhook_id: str) -> dict:
    """The row as the database holds it (text, bytes, JSON text), not as the ORM reads it."""
    cast = "CAST({0} AS TEXT)" if not runtime.db.is_sqlite else "{0}"
    columns = ", ".join(cast.format(c) if c in ("headers", "errors") else c for c in COMPARED)
    with runtime.db.engine.connect() as connection:
        row = connection.execute(text(f"SELECT {columns}, received_at, updated_at, next_attempt_at, completed_at "
                                      "FROM events WHERE webhook_id = :w"), {"w": webhook_id}).one()
    return row._asdict()


def by_store(runtime, webhook_id: str, **kwargs):
    with runtime.db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return store.store_event(connection, webhook_id=webhook_id, **kwargs)


@pytest.mark.parametrize("status, extra", [
    (EventStatus.PENDING, dict(errors=None)),
    (EventStatus.PENDING, dict(errors={"_repaired": ["lone surrogate replaced by U+FFFD at body"]})),
    (EventStatus.INVALID, dict(errors={"_body": ["not JSON"]})),
    (EventStatus.SKIPPED, dict(errors=None, last_error="resource type 'quiz' is not relayed")),
    (EventStatus.PENDING, {}),
])
def test_the_same_row_as_the_sqlalchemy_path(runtime, status, extra):
    kwargs = dict(body=b'{"resourceType": "review", "x": "\xc3\xa9"}', headers={"webhook-id": "a", "user-agent": "é"},
                  status=status, wake=queue.CHANNEL, **FIELDS, **extra)
    ours = event_insert.store_event(runtime.db.engine, webhook_id="msg_raw", **kwargs)
    theirs = by_store(runtime, "msg_orm", **kwargs)
    assert ours.created and theirs.created and ours.status == theirs.status == status
    assert ours.event_id != theirs.event_id
    mine, reference = raw_row(runtime, "msg_raw"), raw_row(runtime, "msg_orm")
    for column in COMPARED:
        if column != "webhook_id":
            assert mine[column] == reference[column], column
    for column in ("received_at", "updated_at", "next_attempt_at", "completed_at"):
        # Written the same way (same type, same text format on SQLite), at nearly the same time.
        assert (mine[column] is None) == (reference[column] is None), column
        assert type(mine[column]) is type(reference[column]), column
        if isinstance(mine[column], str):
            assert len(mine[column]) == len(reference[column]), column
    with runtime.db.session() as session:
        loaded = store.load(session, ours.event_id)
        assert loaded.body == kwargs["body"] and loaded.headers == kwargs["headers"]
        assert loaded.received_at.tzinfo is not None


def test_a_duplicate_webhook_id_stores_nothing_and_names_the_first_event(runtime):
    first = event_insert.store_event(runtime.db.engine, webhook_id="msg_dup", body=b"{}", headers={},
                                     status=EventStatus.PENDING, wake=queue.CHANNEL)
    again = event_insert.store_event(runtime.db.engine, webhook_id="msg_dup", body=b"{}", headers={},
                                     status=EventStatus.INVALID)
    assert first.created and not again.created
    assert (again.event_id, again.status) == (first.event_id, EventStatus.PENDING)
    with runtime.db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 1


def test_the_row_is_committed_when_it_returns_and_the_connection_goes_back_as_it_came(runtime):
    stored = event_insert.store_event(runtime.db.engine, webhook_id="msg_seen", body=b"{}", headers={},
                                      status=EventStatus.PENDING)
    other = runtime.db.engine.connect()  # another connection sees it: committed
    try:
        assert other.execute(text("SELECT id FROM events WHERE webhook_id = 'msg_seen'")).scalar() == stored.event_id
    finally:
        other.close()
    pooled = runtime.db.engine.raw_connection()
    try:
        connection = pooled.driver_connection
        assert (connection.isolation_level != None) if runtime.db.is_sqlite else (connection.autocommit is False)  # noqa: E711
    finally:
        pooled.close()


def test_a_database_error_is_a_sqlalchemy_error_and_the_next_insert_works(runtime):
    with pytest.raises(SQLAlchemyError):
        # A NUL in a text column is refused by PostgreSQL; SQLite refuses a value it cannot bind.
        event_insert.store_event(runtime.db.engine, webhook_id="msg_bad", body=b"{}", headers={},
                                 status=EventStatus.PENDING, topic=object() if runtime.db.is_sqlite else "a\x00b")
    assert event_insert.store_event(runtime.db.engine, webhook_id="msg_good", body=b"{}", headers={},
                                    status=EventStatus.PENDING).created
