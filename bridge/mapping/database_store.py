"""The live mapping of a running process when it is kept in the database (the default).

Every web and worker process holds one :class:`DatabaseMappingStore`. ``current()`` is
on the hot path of every event, so it normally returns the mapping it already has; at
most every ``check_interval`` seconds it asks the database for the newest version
number (one indexed ``max(id)``), and only when that number changed does it read and
load the text. On PostgreSQL a listener thread (:mod:`bridge.mapping.listener`) hears
``NOTIFY bridge_mapping`` and makes the next call look at once; the periodic check stays
as the safety net for a dropped listener connection. On SQLite the check is all there is
(one process tree on one machine; the query costs microseconds).

Failure policy:

* An empty table is seeded from the mapping file (``BRIDGE_MAPPING``) as version 1.
* The first load raises :class:`MappingError` when there is nothing usable (an invalid
  seed file): a process with no mapping cannot plan anything.
* After that a version this process cannot load (published by a newer release, or an
  environment difference) never replaces the good one: the problems are logged once, kept
  in :attr:`last_error`, written to the audit list (``load_failed``, once per version and
  process), and the last good mapping keeps serving.
* A database error during the periodic check keeps the current mapping and tries again
  at the next check; it is logged, not raised, once a mapping is loaded.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable, Mapping as TypingMapping

from bridge.mapping import versions
from bridge.mapping.errors import MappingError, Problem
from bridge.mapping.listener import VersionListener
from bridge.mapping.model import Mapping

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0  # seconds between version checks without a listener (SQLite)
LISTENING_CHECK_INTERVAL = 30.0  # with a healthy PostgreSQL listener: only a safety net


class DatabaseMappingStore:
    """The newest valid mapping version in the database, reloaded when a new one is published."""

    mode = "database"

    def __init__(self, db, seed_path: str, env: TypingMapping[str, str] | None = None, *,
                 check_interval: float = CHECK_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 listen: bool | None = None):
        self.db = db
        self.seed_path = str(seed_path)
        self._env = env
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._mapping: Mapping | None = None
        self.version: int | None = None  # the version number serving now
        self._seen: int | None = None  # the newest number looked at, good or bad
        self._checked_at: float | None = None
        self.last_error: list[Problem] | None = None
        self._listen = db.engine.dialect.name == "postgresql" if listen is None else listen
        self._listener = None
        self._listener_pid: int | None = None

    @property
    def path(self) -> str:
        """What the console shows as "the mapping in use"."""
        if self.version is None:
            return f"database (seeded from {self.seed_path})"
        return f"version {self.version} in the database"

    def current(self) -> Mapping:
        mapping, checked_at = self._mapping, self._checked_at
        if mapping is not None and checked_at is not None \
                and self._clock() - checked_at < self._interval():
            return mapping
        with self._lock:
            if self._mapping is None or self._checked_at is None \
                    or self._clock() - self._checked_at >= self._interval():
                self._refresh()
            return self._mapping

    def reload(self) -> Mapping:
        with self._lock:
            self._seen = None
            self._refresh()
            return self._mapping

    def mark_stale(self) -> None:
        """Look at the database on the next ``current()`` (the listener calls this)."""
        self._checked_at = None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    # ------------------------------------------------------------------ internals

    def _interval(self) -> float:
        listener = self._listener
        if listener is not None and listener.healthy and self._listener_pid == os.getpid():
            return max(self.check_interval, LISTENING_CHECK_INTERVAL)
        return self.check_interval

    def _refresh(self) -> None:
        self._ensure_listener()
        self._checked_at = self._clock()
        try:
            with self.db.session() as session:
                newest = versions.live_version_id(session)
        except Exception as error:  # noqa: BLE001 - see the failure policy
            if self._mapping is None:
                raise
            log.error("mapping: cannot check for a new version (%s); still using version %s", error,
                      self.version)
            return
        if newest is None:
            versions.seed_from_file(self.db, self.seed_path, self._env)
            with self.db.session() as session:
                newest = versions.live_version_id(session)
        if self._mapping is not None and newest == self._seen:
            return
        self._seen = newest
        with self.db.session() as session:
            row = versions.get(session, newest)
        source = f"mapping version {newest}"
        try:
            mapping = versions.validate(row.yaml_text, source, self._env)
        except MappingError as error:
            self.last_error = error.problems
            self._record_failure(newest, error)
            if self._mapping is None:
                raise
            log.error("mapping version %s is invalid here; still using version %s:\n%s", newest, self.version,
                      "\n".join(str(problem) for problem in error.problems))
            return
        replaced = self._mapping is not None
        self._mapping, self.version, self.last_error = mapping, newest, None
        for warning in mapping.warnings:
            log.warning("mapping: %s", warning)
        if replaced:
            log.info("mapping version %s is live in this process (%d routes)", newest, len(mapping.routes))

    def _record_failure(self, number: int, error: MappingError) -> None:
        try:
            versions.record_now(self.db, f"process {socket.gethostname()}:{os.getpid()}", "load_failed",
                                number, f"version {number} does not load here; the last good version keeps"
                                f" running ({self.version or 'none'})",
                                [str(problem) for problem in error.problems])
        except Exception:  # noqa: BLE001 - the audit row is a courtesy; the log line above remains
            log.exception("mapping: could not record the load failure in the audit list")

    def _ensure_listener(self) -> None:
        if not self._listen or self._listener_pid == os.getpid():
            return
        # After a fork (gunicorn's workers) the parent's thread is not running here.

        self._listener_pid = os.getpid()
        self._listener = VersionListener(self.db.url, self.mark_stale)
        self._listener.start()
