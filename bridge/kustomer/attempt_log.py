"""Collect the HTTP attempts the Kustomer client makes while one action runs.

The client is shared by every worker thread, so it cannot hold "the current
event". It reports each try through `record`, which appends to the list of the
`capture()` block active in the calling thread (a context variable).
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator
from bridge.kustomer.errors import redact_url

_current: contextvars.ContextVar[list | None] = contextvars.ContextVar("kustomer_attempts", default=None)


@dataclass(frozen=True)
class RecordedAttempt:
    method: str
    target: str
    status: int | None
    latency_ms: float
    error: str | None
    started_at: datetime


def record(info) -> None:
    """`on_attempt` callback for KustomerClient; a no-op outside `capture()`."""
    bucket = _current.get()
    if bucket is None:
        return

    bucket.append(RecordedAttempt(
        method=info.method, target=redact_url(info.url), status=info.status,
        latency_ms=info.latency_ms, error=info.error, started_at=info.started_at,
    ))


@contextmanager
def capture() -> Iterator[list[RecordedAttempt]]:
    bucket: list[RecordedAttempt] = []
    token = _current.set(bucket)
    try:
        yield bucket
    finally:
        _current.reset(token)
