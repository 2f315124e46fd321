"""The webhook's one write: the event INSERT on a pooled DBAPI connection, in autocommit.

Ingest runs exactly one statement per webhook (`store.insert_statement`: INSERT ... ON
CONFLICT DO NOTHING RETURNING id, with the NOTIFY inside it on PostgreSQL), so it needs none
of what a SQLAlchemy `Connection` adds around a statement: its execution context, cache-key
lookup, result object, and on SQLite a `PRAGMA` to set autocommit on each checkout and another
to reset it. Measured, that machinery cost more than the INSERT itself (issue 16; figures in
docs/design-notes.md, "Ingest"). Here the statement is compiled by SQLAlchemy once per dialect
and run on the bare driver connection; SQLAlchemy still provides the pool (and the idle ping on
PostgreSQL, `bridge.events.db`), each column's bind processing (so a value is stored exactly as
`store.store_event` stores it, which a test checks), and the error classes.

Autocommit: the statement is its own transaction, committed when it returns (so before the
2xx); psycopg then needs no BEGIN and COMMIT round trips. The connection goes back to the pool
as it came (autocommit off).

Failure policy: any database error is raised as a `sqlalchemy.exc.SQLAlchemyError` (the
caller answers 503 and Okendo retries); a connection the error shows to be broken is
invalidated, so the pool does not hand it out again.
"""
from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import Null

from bridge.events import write_turn
from bridge.events.models import Event
from bridge.events.store import INSERTED, Stored, event_values, insert_statement, wake_channel


@dataclass(frozen=True)
class _Prepared:
    """A statement rendered for one dialect, and how to turn a dict of values into its parameters."""

    sql: str
    names: tuple[str, ...] | None  # positional (SQLite's qmark): the parameters' order; None: named
    constants: dict  # parameters bound once (the NOTIFY channel)
    processors: dict[str, Callable]

    def parameters(self, values: dict):
        bound = dict(self.constants)
        for name, value in values.items():
            if isinstance(value, Null):  # SQL NULL, not JSON null
                value = None
            else:
                process = self.processors.get(name)
                if process is not None:
                    value = process(value)
            bound[name] = value
        if self.names is None:
            return bound
        return tuple(bound[name] for name in self.names)


def _prepare(statement, dialect, types: dict) -> _Prepared:
    compiled = statement.compile(dialect=dialect)
    constants = {name: value for name, value in compiled.construct_params(dict.fromkeys(types)).items()
                 if name not in types}
    processors = {}
    for name, type_ in types.items():
        process = type_.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    names = tuple(compiled.positiontup) if compiled.positional else None
    return _Prepared(compiled.string, names, constants, processors)


@functools.cache
def _statements(dialect, wake: str | None) -> tuple[_Prepared, _Prepared]:
    """The INSERT and the duplicate's lookup, prepared once per dialect (and NOTIFY channel)."""
    columns = Event.__table__.c
    insert = _prepare(insert_statement(dialect.name, wake), dialect, {name: columns[name].type for name in INSERTED})
    lookup = _prepare(select(Event.id, Event.status).where(Event.webhook_id == bindparam("webhook_id")), dialect,
                      {"webhook_id": columns.webhook_id.type})
    return insert, lookup


def store_event(engine: Engine, *, webhook_id: str, body: bytes, headers: dict, status: str,
                wake: str | None = None, **fields) -> Stored:
    """`store.store_event` for one webhook, committed when it returns: the new event's id, or
    the id and status of the one already stored under `webhook_id` (`created` False)."""
    dialect = engine.dialect
    insert, lookup = _statements(dialect, wake_channel(dialect.name, status, wake))
    values = event_values(webhook_id=webhook_id, body=body, headers=headers, status=status, **fields)
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        pooled = engine.raw_connection()
    except dbapi_error as error:  # the pool could not open a connection
        raise DBAPIError.instance(None, None, error, dbapi_error, dialect=dialect) from error
    connection, cursor, sql = pooled.driver_connection, None, insert.sql
    sqlite = dialect.name == "sqlite"
    switch, autocommit = _AUTOCOMMIT[sqlite]
    parameters = insert.parameters(values)
    turn = write_turn.for_database(engine.url.database) if sqlite else None
    try:
        previous = getattr(connection, switch)
        setattr(connection, switch, autocommit)
        try:
            cursor = connection.cursor()
            # On SQLite one webhook writer at a time, woken in turn (bridge.events.write_turn says why).
            with turn or nullcontext():
                cursor.execute(sql, parameters)
                rows = cursor.fetchall()  # every row: SQLite commits when the statement is done
            if rows:
                return Stored(rows[0][0], True, status)
            sql = lookup.sql
            cursor.execute(sql, lookup.parameters({"webhook_id": webhook_id}))
            event_id, existing_status = cursor.fetchone()
            return Stored(event_id, False, existing_status)
        finally:
            if cursor is not None:
                cursor.close()
            setattr(connection, switch, previous)
    except dbapi_error as error:
        broken = dialect.is_disconnect(error, connection, cursor)
        if broken:
            pooled.invalidate(error)
        raise DBAPIError.instance(sql, None, error, dbapi_error, connection_invalidated=broken,
                                  dialect=dialect) from error
    finally:
        pooled.close()  # back to the pool (or, invalidated, closed)


# How each driver's connection is switched to autocommit: the attribute and its value, for
# sqlite3 (True) and psycopg (False). Neither talks to the server for it while no transaction
# is open, and the pool hands out none open.
_AUTOCOMMIT = {True: ("isolation_level", None), False: ("autocommit", True)}
