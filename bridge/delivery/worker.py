"""`bridge worker`: threads that claim due events from the events table and process them.

Each thread loops: claim the first due event (`bridge.delivery.queue.claim_next`), run one round
(`Processor`), and when nothing is due sleep until the `Waker` says something changed, or
at most `IDLE_SECONDS`, which is also how retries falling due and expired leases are found
(there is no separate sweeper any more: the claim query is the sweep).

Shutdown: SIGTERM (what Heroku and `kill` send) and SIGINT are *graceful*: threads finish
the event in hand and stop, within `SHUTDOWN_SECONDS` (below Heroku's 30 s). An event cut
off mid-way anyway (kill -9, a dyno crash) keeps its `processing` lease; when the lease
expires any worker's claim takes it over, and done actions are skipped.

The worker also prunes old bodies and attempts (`bridge.delivery.retention`, BRIDGE_RETENTION_DAYS).

Failure policy: an error while claiming (the database is down) is logged and retried after
`ERROR_PAUSE_SECONDS`; a thread never dies of it. Errors inside a round are the
processor's (`bridge.delivery.processor`).
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from bridge.alerts.service import start_alert_thread
from bridge.composition import build_runtime
from bridge.config import Settings
from bridge.delivery.metrics_log import Metrics
from bridge.delivery.queue import Waker
from bridge.delivery.retention import Pruner
from bridge.events import counters

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 20  # below Heroku's 30 s between SIGTERM and SIGKILL
ERROR_PAUSE_SECONDS = 1.0


def run_worker(settings: Settings, threads: int | None = None) -> None:
    runtime = build_runtime(settings, metrics=Metrics())
    threads = threads or settings.worker_threads
    stopping = threading.Event()
    waker = Waker(settings.database_url)

    def stop(signum, _frame) -> None:
        log.info("worker: %s received; finishing the events in hand", signal.Signals(signum).name)
        stopping.set()
        waker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    waker.start()
    alerts = start_alert_thread(runtime)  # its own thread: a slow mail server never holds up delivery
    pruner = Pruner(runtime.db, settings.retention_days) if settings.retention_days > 0 else None
    if pruner is not None:
        pruner.start()
    folder = counters.Folder(runtime.db)  # keeps /metrics flat as history grows
    folder.start()
    pool = [threading.Thread(target=work, args=(runtime.processor, waker, stopping),
                             name=f"bridge-worker-{n}", daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    log.info("worker started: %d thread(s), queue: the events table (%s)", threads,
             runtime.db.engine.dialect.name)
    try:
        while not stopping.is_set():
            stopping.wait(1.0)
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        for thread in pool:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = sum(thread.is_alive() for thread in pool)
        if left:
            log.warning("worker: %d thread(s) still busy after %d s; their events are taken over "
                        "when the lease expires", left, SHUTDOWN_SECONDS)
        log.info("worker stopped")
    finally:
        waker.stop()
        if alerts:
            alerts.stop()
        if pruner is not None:
            pruner.stop()
        folder.stop()
        runtime.close()


def work(processor, waker: Waker, stopping: threading.Event) -> None:
    """One worker thread's loop (see module docstring)."""
    while not stopping.is_set():
        seen = waker.generation
        try:
            took = processor.process_next()
        except Exception:  # noqa: BLE001 - see the failure policy
            log.exception("worker: could not claim an event; trying again")
            stopping.wait(ERROR_PAUSE_SECONDS)
            continue
        if not took:
            waker.wait(seen)
