"""The `processing` lease of an event: renewed while a worker works, and fencing its writes.

A worker round claims an event with a fresh random token (`store.claim`). Then:
- the `Heartbeat` thread of the process renews the lease of every event its threads hold,
  every third of `BRIDGE_LEASE_SECONDS`, whatever the thread is doing: waiting for the
  Kustomer pace, for a slow answer, for a retry's backoff. Waiting is progress; only a dead
  process stops renewing, and only then may another worker take the event over;
- every write of the round is fenced by the token in its own transaction, so a worker that
  lost its lease changes nothing: the final status by its own `WHERE lease_token = :t`
  (`store.finish`), an action row by an INSERT that selects from the event row only while
  the round holds it (`store.record_action` with the token; the row stays locked until the
  commit), any other write by `fence(session)`, which renews the lease *only if the token
  still matches*. Each raises `LeaseLost` otherwise, and the transaction rolls back. The fence
  is part of the write where it can be: a separate renewal was one more round trip per write;
- before each Kustomer call (after the pacer's wait) the worker checks the lease it holds
  (`check_current`), so a round that lost its lease stops instead of posting again.

The statements are the event store's (`store.renew_lease`, `store.finish`, `store.record_action`,
`ticket_store.extend_creating`); this module decides when they run and what a refusal means.

Failure policy: a renewal that cannot reach the database is retried at the next beat; once
the lease may have run out in the database (no renewal for `lease_seconds`), the holder
treats it as lost and stops at its next write or call. `LeaseLost` is an ordinary exception
that the processor catches at the top of a round; nothing is written for it, the new holder
finishes the event.
"""
from __future__ import annotations

import contextvars
import logging
import secrets
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from bridge.events import store, ticket_store
from bridge.events.models import utcnow

log = logging.getLogger(__name__)

# Renew this many times per lease period: two beats may fail before the lease runs out.
BEATS_PER_LEASE = 3


class LeaseLost(Exception):
    """Another worker holds this event now (or may): stop without writing anything."""


def new_token() -> str:
    return secrets.token_hex(16)


class Lease:
    """One worker round's hold on one event (and on the ticket rows it is creating)."""

    def __init__(self, event_id: int, token: str, seconds: float, clock=time.monotonic):
        self.event_id, self.token, self.seconds, self.clock = event_id, token, seconds, clock
        self.valid_until = clock() + seconds  # when it may have run out in the database
        self.lost = False
        self.ticket_ids: set[int] = set()

    def check(self) -> None:
        if self.lost or self.clock() > self.valid_until:
            self.lost = True
            raise LeaseLost(f"event {self.event_id}: the processing lease was lost")

    def renewed(self, at: float) -> None:
        """The database accepted a renewal made at monotonic time `at`."""
        self.valid_until = max(self.valid_until, at + self.seconds)

    def renew(self, session) -> None:
        """Extend the lease if this round still holds it; LeaseLost otherwise (the fence).
        The database decides: a lease that ran out locally but was not taken is still ours."""
        if self.lost:
            raise LeaseLost(f"event {self.event_id}: the processing lease was lost")
        at = self.clock()
        until = utcnow() + timedelta(seconds=self.seconds)
        if not store.renew_lease(session, self.event_id, self.token, until):
            self.lost = True
            raise LeaseLost(f"event {self.event_id} is held by another worker now")
        if self.ticket_ids:
            # A conversation being opened is part of this event's round: its lock lives as long.
            ticket_store.extend_creating(session, self.ticket_ids, lease_until=until)
        self.renewed(at)


_current: contextvars.ContextVar[Lease | None] = contextvars.ContextVar("bridge_lease", default=None)


@contextmanager
def holding(lease: Lease) -> Iterator[Lease]:
    """Make `lease` the one `fence` and `check_current` use in this thread."""
    token = _current.set(lease)
    try:
        yield lease
    finally:
        _current.reset(token)


def current() -> Lease | None:
    return _current.get()


def check_current() -> None:
    """Raise LeaseLost if the round running in this thread lost its lease (no-op outside one)."""
    lease = _current.get()
    if lease is not None:
        lease.check()


def fence(session) -> None:
    """Run first in every write of a worker round (see module docstring); no-op outside one,
    e.g. for an admin's replay."""
    lease = _current.get()
    if lease is not None:
        lease.renew(session)


class Heartbeat:
    """Renews the leases held by this process's worker threads (one daemon thread)."""

    def __init__(self, db, lease_seconds: float):
        self.db = db
        self.interval = max(0.2, lease_seconds / BEATS_PER_LEASE)
        self._held: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, lease: Lease) -> None:
        with self._lock:
            self._held[id(lease)] = lease
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bridge-heartbeat", daemon=True)
                self._thread.start()

    def release(self, lease: Lease) -> None:
        with self._lock:
            self._held.pop(id(lease), None)

    def beat(self) -> None:
        """Renew every held lease once (one short transaction each)."""
        with self._lock:
            leases = list(self._held.values())
        for lease in leases:
            if lease.lost:
                continue
            try:
                with self.db.session() as session:
                    lease.renew(session)
            except LeaseLost:
                log.warning("event %s: lease taken over by another worker; this round stops",
                            lease.event_id, extra={"event_id": lease.event_id})
            except Exception:  # noqa: BLE001 - a database blip: try again at the next beat
                log.warning("event %s: could not renew the lease; retrying", lease.event_id,
                            exc_info=True, extra={"event_id": lease.event_id})

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        self._stopped.set()
