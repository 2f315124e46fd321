"""`bridge worker`: the huey consumer (threads) plus the sweeper.

Shutdown: SIGTERM (what Heroku and `kill` send) is the *graceful* signal here —
workers finish the event in hand and stop, within Heroku's 30 s. An event cut
off mid-way anyway (kill -9, a dyno crash) keeps its `processing` lease; when
the lease expires the sweeper of any worker enqueues it again, and done actions
are skipped, so nothing is lost and nothing is done twice.
"""
from __future__ import annotations

import logging

from bridge.alerts.service import start_alert_thread
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.sweeper import Sweeper, sweep_once

log = logging.getLogger(__name__)


def run_worker(settings: Settings, threads: int | None = None) -> None:
    from bridge.metrics import Metrics

    runtime = build_runtime(settings, metrics=Metrics())
    threads = threads or settings.worker_threads
    # Events stored while no worker ran: pick them up now rather than after stale_after.
    sweep_once(runtime.db, runtime.enqueue, stale_after=0)
    sweeper = Sweeper(runtime.db, runtime.enqueue, settings.sweep_interval, settings.stale_after,
                      queue_depth=runtime.dispatcher.depth)
    sweeper.start()
    alerts = start_alert_thread(runtime)  # its own thread: a slow mail server never holds up delivery
    consumer = runtime.dispatcher.huey.create_consumer(
        workers=threads, worker_type="thread", periodic=False, graceful_signal="TERM",
        # Polling backends (SQLite) wait at most max_delay for a new task: keep it short so an
        # event reaches Kustomer in well under a second. Redis and PostgreSQL block instead.
        initial_delay=0.02, max_delay=0.1, backoff=1.5, check_worker_health=True,
        shutdown_timeout=20,  # below Heroku's 30 s between SIGTERM and SIGKILL
    )
    log.info("worker started: %d thread(s), queue %s", threads, type(runtime.dispatcher.huey).__name__)
    try:
        consumer.run()
    finally:
        sweeper.stop()
        if alerts:
            alerts.stop()
        runtime.close()
