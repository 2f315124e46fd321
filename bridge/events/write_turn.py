"""Webhook INSERTs into one SQLite file take turns, instead of meeting in SQLite's busy handler.

SQLite has one writer at a time. A connection that finds the write lock taken does not wait
for its release: its busy handler sleeps and tries again, 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
50, 100 ms apart (sqlite3's default, which `timeout=` turns on). An INSERT holds the lock for
about 0.3 ms, so under load two web threads (or two gunicorn processes) that collide mostly
sleep: a request that lost three times in a row waited 8 ms for a lock free again after 0.3.
Measured under wrk (issue 16, docs/design-notes.md "Ingest", third pass), that was where a web
process idled while requests queued, and the tail of the latency.

So each webhook INSERT on SQLite first takes its turn: a `threading.Lock` among the threads of
a process, then an exclusive `flock` on a file beside the database among the processes of the
machine (the web's gunicorn workers). A waiter sleeps in the kernel and is woken the moment
the turn is given back. The turn spans the one statement only (autocommit: the INSERT and its
commit), so it is held for what SQLite holds its own lock for.

Other writers (the worker, the console, the CLI) do not take the turn: they still meet the
webhook's INSERT in SQLite's busy handler, as before. That is correct, only slower: the turn is
an optimisation, never what makes a write safe (SQLite's own lock is).

Failure policy: never fails a write. When the lock file cannot be opened (a read-only
folder), writes go on without turns, as before, and this is logged once per process. A process
that dies holding the turn gives it back (the kernel drops its `flock`); a forked child opens
its own file (a lock held through an inherited descriptor would be shared with the parent).
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading

log = logging.getLogger(__name__)

SUFFIX = "-ingest-turn"  # beside bridge.db, like SQLite's own bridge.db-wal and bridge.db-shm


class WriteTurn:
    """`take()` before the statement, `give()` after it (in a `finally`); or `with turn:`."""

    def __init__(self, database_path: str):
        self.path = database_path + SUFFIX
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._broken = False

    def take(self) -> None:
        self._threads.acquire()
        try:
            fd = self._descriptor()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:  # see the failure policy: go on without the other processes' turn
            self._give_up(error)
        except BaseException:
            self._threads.release()
            raise

    def give(self) -> None:
        try:
            fd = self._fd
            if fd is not None and self._pid == os.getpid():
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as error:
            self._give_up(error)
        finally:
            self._threads.release()

    def __enter__(self) -> "WriteTurn":
        self.take()
        return self

    def __exit__(self, *exc_info) -> None:
        self.give()

    def _descriptor(self) -> int | None:
        """This process's descriptor of the lock file (opened once per process; called holding `_threads`)."""
        if self._broken:
            return None
        if self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600), os.getpid()
        return self._fd

    def _give_up(self, error: OSError) -> None:
        if not self._broken:
            self._broken = True
            log.warning("webhook writes to SQLite go on without taking turns (%s: %s); they meet in "
                        "SQLite's busy handler instead, which is slower under load", self.path, error)


_turns: dict[str, WriteTurn] = {}
_turns_lock = threading.Lock()


def for_database(database_path: str | None) -> WriteTurn | None:
    """The turn of the SQLite file at `database_path`; None for an in-memory database."""
    if not database_path or database_path == ":memory:" or database_path.startswith("file:"):
        return None
    turn = _turns.get(database_path)
    if turn is None:
        with _turns_lock:
            turn = _turns.setdefault(database_path, WriteTurn(database_path))
    return turn
