"""Count webhooks refused for their signature, in the web process, cheaply.

A burst of 401s on `/webhooks/okendo` usually means a secret was rotated on one side
only; it may also be someone probing. Either way the web process must make the count
visible to the worker (which sends alerts) without a database write per refused
request, or an attacker could turn each cheap forged request into a write.

So a refusal only increments an in-memory counter under a lock. The first refusal
after a flush starts a timer; when it fires (`FLUSH_INTERVAL` seconds later) the
counts are written as ONE row. Whatever the request rate, each web process writes at
most one row per interval, and the number of distinct reasons kept is capped.

Failure policy: a failed flush is logged and its counts are kept for the next try;
nothing here can fail or slow the request that noted the refusal.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import datetime

from bridge.alerts.tables import SignatureRefusal
from bridge.events.models import utcnow

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 5.0
MAX_REASONS = 8  # distinct reasons kept per flush; the rest count as "other"
EXTENSION = "bridge.alerts.refusals"
_create_lock = threading.Lock()


class RefusalCounter:
    def __init__(self, write, interval: float = FLUSH_INTERVAL):
        """`write(count, first_at, reasons)` stores one flush (see `write_to_db`)."""
        self._write = write
        self.interval = interval
        self._lock = threading.Lock()
        self._count = 0
        self._first: datetime | None = None
        self._reasons: Counter = Counter()
        self._timer: threading.Timer | None = None

    def note(self, reason: str) -> None:
        with self._lock:
            self._count += 1
            self._first = self._first or utcnow()
            if reason not in self._reasons and len(self._reasons) >= MAX_REASONS:
                reason = "other"
            self._reasons[reason[:120]] += 1
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.interval, self.flush)
            self._timer.daemon = True  # counts not yet written when the process exits are not worth a wait
            self._timer.start()

    def flush(self) -> int:
        """Write what was counted since the last flush; returns the count written."""
        with self._lock:
            count, first, reasons = self._count, self._first, dict(self._reasons)
            self._count, self._first, self._reasons, self._timer = 0, None, Counter(), None
        if not count:
            return 0
        try:
            self._write(count, first, reasons)
            return count
        except Exception:  # noqa: BLE001 - see the failure policy
            log.warning("could not record %d refused webhook signature(s); will try again", count, exc_info=True)
            with self._lock:
                self._count += count
                self._first = min(filter(None, (self._first, first)))
                self._reasons.update(reasons)
                self._schedule()
            return 0


def write_to_db(db):
    def write(count: int, first_at: datetime, reasons: dict) -> None:
        with db.session() as session:
            session.add(SignatureRefusal(first_at=first_at, count=count, reasons=reasons))
    return write


def note_refused_signature(app, reason: str) -> None:
    """Called by ingest for each webhook refused with 401. Never raises."""
    try:
        counter = app.extensions.get(EXTENSION)
        if counter is None:
            with _create_lock:
                counter = app.extensions.get(EXTENSION)
                if counter is None:
                    counter = app.extensions[EXTENSION] = RefusalCounter(write_to_db(app.extensions["bridge"].db))
        counter.note(reason)
    except Exception:  # noqa: BLE001 - counting must never break ingest
        log.exception("could not count a refused webhook")
