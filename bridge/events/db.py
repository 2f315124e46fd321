"""Database engine and sessions (the Flask `init_app` pattern, usable without Flask too).

SQLite gets WAL mode and a busy timeout so the web process and the worker can
write at the same time.

PostgreSQL: a pooled connection that sat idle for `IDLE_PING_SECONDS` or more is pinged when
it is checked out (one `SELECT 1`), and a broken one is replaced before anyone uses it, so a
restarted server costs a quiet process nothing. A busy process skips the ping: it was a round
trip (BEGIN + SELECT 1) on every checkout, some 15% of the worker's time at 50 events/s. A
connection that breaks while in use raises (SQLAlchemy then invalidates the whole pool, so the
next checkout connects afresh), which is the failure policy below. The pool hands out the most
recently used connection first (LIFO), so under a light load the others go idle and are
pinged, and the hot one is not.

`Database.transaction()` and `Database.reading_connection()` are the same two on a Core
connection instead of an ORM session, for the worker round's statements, which need no ORM:
a session costs more CPU to open, commit and close than the statements it runs (issue 16).

`Database.reading()` is for reads that need no transaction (each statement sees what is
committed when it runs, which is all READ COMMITTED gives a transaction anyway) and for a
single statement that is atomic by itself, such as the worker's claim: on PostgreSQL it runs
in autocommit, which saves the BEGIN and COMMIT round trips; on SQLite it is `session()`.

Failure policy: errors propagate to the caller, which decides (the webhook answers 503, the
worker retries later).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, create_engine, event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

# A PostgreSQL connection idle this long is pinged before use (see the module docstring).
IDLE_PING_SECONDS = 1.0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _checked_in(_dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Pool `checkout` hook: raising DisconnectionError makes the pool discard this
    connection and check out (or open) another, up to three times."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # no BEGIN: the ping leaves no transaction open
        dbapi_connection.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure: this connection is not usable
        raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error
    finally:
        try:
            dbapi_connection.autocommit = autocommit
        except Exception:  # noqa: BLE001 - a broken connection; the pool discards it
            pass


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    pool = dict(pool_size=5, max_overflow=10, pool_recycle=300, pool_use_lifo=True)
    engine = create_engine(url, **pool)
    if engine.dialect.driver != "psycopg":  # the ping above speaks psycopg 3; others get SQLAlchemy's
        engine.dispose()
        return create_engine(url, pool_pre_ping=True, **pool)
    event.listen(engine.pool, "checkin", _checked_in)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._readers = self.sessions if self.is_sqlite else sessionmaker(
            self._autocommit_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session whose statements each commit by themselves (see the module docstring):
        for reads, and for one statement that must be atomic on its own."""
        with (self.session() if self.is_sqlite else self._autocommit()) as session:
            yield session

    @contextmanager
    def _autocommit(self) -> Iterator[Session]:
        session = self._readers()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """`session()` as a Core connection: committed on success, rolled back on any error."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading_connection(self) -> Iterator[Connection]:
        """`reading()` as a Core connection: autocommit on PostgreSQL, a transaction on SQLite."""
        if self.is_sqlite:
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._autocommit_engine.connect() as connection:
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()
