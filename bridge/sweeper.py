"""The sweeper: re-enqueue events the queue may have lost.

Huey deletes a task when a worker takes it; a killed worker, a failed enqueue or
a lost schedule would otherwise leave an event waiting forever. Every
`BRIDGE_SWEEP_INTERVAL` seconds this finds events pending longer than
`BRIDGE_STALE_AFTER`, retries that are overdue, and leases that expired, and
enqueues them again. Safe when several workers sweep at once: a duplicate
enqueue is harmless because processing starts with an atomic claim.
"""
from __future__ import annotations

import logging
import threading

from bridge import store

log = logging.getLogger(__name__)


def sweep_once(db, enqueue, stale_after: float, queue_depth=None) -> list[int]:
    """Enqueue what looks lost. `queue_depth()` (tasks waiting) lets a backlog be told apart
    from a loss: while the queue still holds at least as many tasks as there are waiting
    events (e.g. behind the Kustomer pace), nothing is lost and nothing is re-enqueued."""
    with db.session() as session:
        ids = store.due_event_ids(session, stale_after)
    depth = queue_depth() if (ids and queue_depth) else None
    if depth is not None and depth >= len(ids):
        return []
    for event_id in ids:
        enqueue(event_id, None)
    if ids:
        log.info("sweeper re-enqueued %d event(s)", len(ids))
    return ids


class Sweeper(threading.Thread):
    def __init__(self, db, enqueue, interval: float, stale_after: float, queue_depth=None):
        super().__init__(name="bridge-sweeper", daemon=True)
        self.db, self.enqueue, self.queue_depth = db, enqueue, queue_depth
        self.interval, self.stale_after = interval, stale_after
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                sweep_once(self.db, self.enqueue, self.stale_after, self.queue_depth)
            except Exception:  # noqa: BLE001 - a database blip must not kill the sweeper
                log.exception("sweep failed; trying again in %.0f s", self.interval)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
