"""The events table is the queue: workers claim due events straight from it.

There is no second store to keep in step: a webhook is one INSERT, and an event is work
to do for as long as its status is `pending`, `retrying` or `processing` with an expired
lease. `next_attempt_at` says when it is due (a pending event is due when it arrives, a
retry when its schedule says). The partial index `ix_events_unfinished` holds only those
events, in that order, so finding work costs the same however much history is stored.

Claiming (`claim_next`): on PostgreSQL one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE
SKIP LOCKED LIMIT 1)` (`store.claim_first_due`), so concurrent workers never wait for each
other; on SQLite a read of the first due id (`store.first_due_id`), then the conditional claim
of `store.claim_round` (SQLite has one writer at a time, so the claim is atomic; a lost race
just looks again). Reading first keeps idle workers from taking SQLite's write lock, which
ingest needs. The statements are built in `bridge.events.round_statements`, beside the
round's others; this module decides when to run them.

Waking (`Waker`): idle worker threads sleep until something may have changed. On
PostgreSQL ingest sends `NOTIFY bridge_events` in the insert's transaction and one listener
connection per worker process wakes one thread per notification; on SQLite a thread reads `PRAGMA
data_version` (it changes when another connection commits): every 2 ms while the database
is busy, backing off to every 50 ms once it has been quiet for a second (`SqlitePace`); on a
change it counts the events due now (`_due_now`, the claim's own read, on its connection)
and wakes that many idle threads, none when the change added no work (a round's own writes).
Either way idle threads also look every `IDLE_SECONDS`, which is what picks up a retry when
it falls due and an expired lease: the job of the old sweeper.

Failure policy: a lost notification or a broken listener costs at most `IDLE_SECONDS` of
delay, never an event; the listener reconnects on its own. Database errors while claiming
are logged and retried after a pause by the worker loop (`bridge.delivery.worker`).
"""
from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url

from bridge.events import round_statements, store
from bridge.events.models import UTCDateTime, utcnow

log = logging.getLogger(__name__)

CHANNEL = "bridge_events"
# An idle thread looks for due work at least this often (retries falling due, expired leases).
IDLE_SECONDS = 1.0
# How often the SQLite change check runs. Its interval is the wait between an idle worker
# and a new event (at 20 ms it was most of issue 16's 20 ms end-to-end budget), so it runs
# every 2 ms while commits keep coming; but at that pace a worker with nothing to do burns
# 3-4% of a core on it (docs/design-notes.md), so once no commit has been seen for
# SQLITE_BUSY_SECONDS the interval doubles per quiet check up to SQLITE_IDLE_POLL_SECONDS
# (about 0.15% of a core). The price: the first event after a quiet second waits up to
# 50 ms for its worker; a steady stream (issue 16's 50 events/s) never leaves the 2 ms pace.
SQLITE_POLL_SECONDS = 0.002
SQLITE_IDLE_POLL_SECONDS = 0.05
SQLITE_BUSY_SECONDS = 1.0


class SqlitePace:
    """The interval before the next SQLite change check: SQLITE_POLL_SECONDS within
    SQLITE_BUSY_SECONDS of the last change seen, then doubling up to SQLITE_IDLE_POLL_SECONDS."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.interval = SQLITE_POLL_SECONDS
        self.changed_at = clock()

    def next(self, changed: bool) -> float:
        now = self.clock()
        if changed:
            self.changed_at = now
            self.interval = SQLITE_POLL_SECONDS
        elif now - self.changed_at >= SQLITE_BUSY_SECONDS:
            self.interval = min(self.interval * 2, SQLITE_IDLE_POLL_SECONDS)
        return self.interval


def claim_next(session, lease_seconds: float, token: str, now: datetime | None = None):
    """Claim the first due event for a round holding `token`: its `round_statements.ROUND_COLUMNS`
    row (id first), or None. One statement on PostgreSQL, so it may run in autocommit
    (`Database.reading`). `session` may be an ORM session or a Core connection
    (`Database.reading_connection`, what a worker thread uses)."""
    now = now or utcnow()
    if store.connection_of(session).dialect.name == "postgresql":
        return store.claim_first_due(session, lease_seconds, token, now)
    for _ in range(3):  # another worker may claim the one we read first: look again
        event_id = store.first_due_id(session, now)
        if event_id is None:
            return None
        claimed = store.claim_round(session, event_id, lease_seconds, now=now, token=token)
        if claimed is not None:
            return claimed
    return None


def notify(session) -> None:
    """Wake the workers when this transaction commits (PostgreSQL; SQLite needs nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


class Dispatcher:
    """What the web process and the CLI need of the queue: wake workers, tell its depth."""

    def __init__(self, db):
        self.db = db

    def enqueue(self, event_id: int | None = None, delay: float | None = None) -> bool:
        """The event row already says when it is due; this only wakes idle workers sooner.
        Never raises: a worker finds the event within IDLE_SECONDS anyway."""
        if delay:
            return True  # its next_attempt_at is in the future: the workers' idle look finds it
        try:
            with self.db.session() as session:
                notify(session)
            return True
        except Exception:  # noqa: BLE001 - see the docstring
            log.warning("could not wake the workers for event %s; they will find it", event_id, exc_info=True)
            return False

    def depth(self) -> int | None:
        try:
            with self.db.session() as session:
                return store.due_count(session)
        except Exception:  # noqa: BLE001
            return None

    def ping(self) -> bool:
        return self.depth() is not None


class Waker:
    """Lets idle worker threads sleep until new work may be there (see module docstring)."""

    def __init__(self, database_url: str):
        self.url = make_url(database_url)
        self.generation = 0
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        target = self._listen if self.url.get_backend_name() == "postgresql" else self._poll_sqlite
        self._thread = threading.Thread(target=target, name="bridge-waker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.wake()

    def wake(self, threads: int | None = None) -> None:
        """Tell waiting threads that something changed: `threads` of them, or all (None)."""
        with self._changed:
            self.generation += 1
            if threads is None:
                self._changed.notify_all()
            else:
                self._changed.notify(threads)

    def wait(self, seen: int, timeout: float = IDLE_SECONDS) -> None:
        """Block until the generation moves past `seen` (something changed) or `timeout`."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != seen or self._stopped.is_set(), timeout)

    # -- PostgreSQL: LISTEN ----------------------------------------------------------
    def _listen(self) -> None:
        # Imported here: only a PostgreSQL store listens, and a SQLite-only process need not
        # load the driver.
        import psycopg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopped.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.wake()  # anything stored while we were not listening
                    while not self._stopped.is_set():
                        for _ in connection.notifies(timeout=IDLE_SECONDS, stop_after=1):
                            # One notification is one stored event (ingest's INSERT): one
                            # thread claims it. Waking them all cost an empty claim per event
                            # per idle thread. A replay's single notification for many events
                            # also wakes one; the rest start within IDLE_SECONDS.
                            self.wake(1)
            except Exception:  # noqa: BLE001 - see the failure policy; the idle look still runs
                log.warning("queue listener lost its connection; reconnecting", exc_info=True)
                self._stopped.wait(IDLE_SECONDS)

    # -- SQLite: PRAGMA data_version ---------------------------------------------------
    def _poll_sqlite(self) -> None:
        path = self.url.database
        if not path or path == ":memory:":
            return  # one process, no file to watch: the idle look is all there is
        seen = None
        connection = None
        pace = SqlitePace()
        while not self._stopped.is_set():
            changed = False
            try:
                if connection is None:
                    connection = sqlite3.connect(path, timeout=15, check_same_thread=False)
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    seen, changed = version, True
                    due = _due_now(connection)
                    if due is None or due:
                        self.wake(due)  # None: the count failed, wake them all
            except sqlite3.Error:
                log.warning("queue change check failed; retrying", exc_info=True)
                connection = None
                self._stopped.wait(IDLE_SECONDS)
            self._stopped.wait(pace.next(changed))
        if connection is not None:
            connection.close()


# -- SQLite: is anything due? ------------------------------------------------------------
# Most commits a SQLite worker sees are its own threads' (a round's claim and final write):
# they add no work. Waking every idle thread on each of them cost three empty claims per
# event in the e2e benchmark (each a pooled connection, a transaction and the SELECT through
# SQLAlchemy); the change check asks the index itself, on its own connection, and wakes as
# many idle threads as events are due (at most DUE_LOOKAHEAD), none when nothing is.
DUE_LOOKAHEAD = 8


@functools.cache
def _due_statement():
    """The claim's read (`round_statements.first_due`, up to DUE_LOOKAHEAD rows) as SQLite SQL
    (`?` parameters) and the parameter tuple's template, compiled once, with p_now left to fill in."""
    dialect = sqlite.dialect()
    compiled = round_statements.first_due(round_statements.NOW).limit(DUE_LOOKAHEAD).compile(dialect=dialect)
    expanded = compiled.construct_expanded_state({"p_now": None})
    constants = {name: str(value) if isinstance(value, str) else value
                 for name, value in expanded.parameters.items()}  # StrEnum -> plain str for sqlite3
    to_text = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    return expanded.statement, tuple(expanded.positiontup), constants, to_text


def _due_now(connection) -> int | None:
    """How many events are due now (up to DUE_LOOKAHEAD), read on the change check's own
    sqlite3 connection; None (wake every thread) if the read fails."""
    sql, names, constants, to_text = _due_statement()
    now = to_text(utcnow())
    try:
        return len(connection.execute(sql, tuple(now if name == "p_now" else constants[name]
                                                for name in names)).fetchall())
    except sqlite3.Error:
        log.debug("due check failed; waking every idle thread", exc_info=True)
        return None
