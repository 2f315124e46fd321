"""The worker's metric log lines: one JSON line per processed event and per HTTP attempt.

The processor reports here (`Processor(metrics=...)`, built by `bridge.delivery.worker`).
The numbers `/metrics` serves come from the database (`bridge.web.metrics`), so these
lines are not counters: they are what an operator greps, under the `bridge.metrics`
logger, when a number looks wrong. Failure policy: logging never raises into a round
(the `logging` module reports its own errors and carries on).
"""
from __future__ import annotations

import logging


class Metrics:
    """What the worker's processor reports; logged as JSON lines (see module docstring)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or logging.getLogger("bridge.metrics")

    def event_processed(self, event_id: int, status: str | None, seconds: float) -> None:
        self.log.info("event %s processed: %s in %.0f ms", event_id, status, seconds * 1000, extra={
            "event_id": event_id, "status": status, "latency_ms": round(seconds * 1000, 2)})

    def attempt(self, action_key: str, status_code: int | None, latency_ms: float | None) -> None:
        self.log.info("attempt %s: %s in %s ms", action_key, status_code if status_code is not None else "no answer",
                      latency_ms, extra={"action": action_key, "status": status_code, "latency_ms": latency_ms})
