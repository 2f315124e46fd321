"""One JSON log line per HTTP request, tied together by a request id.

The id comes from `X-Request-ID` when the caller sent a sane one (Heroku's router
always does, so our line and the router's line share it) or is a new uuid4; it is
kept in `g.request_id` and echoed back in the response's `X-Request-ID`.

A view that has something to say about what the request did (the webhook: which event it
stored, under which status) says it with `note()`, and it goes on this same line, after the
method, path and status: one line per webhook instead of two (issue 16: a log line was about a
tenth of a webhook's cost). Its `status` field stays the HTTP status; an event's status is
`event_status`.

Failure policy: logging never fails a request. A malformed or oversized incoming
id is replaced, not trusted, because it ends up verbatim in the logs.
"""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("bridge.http")

HEADER = "X-Request-ID"
# Heroku sends a uuid; allow other proxies' ids too, but nothing that could forge log structure.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


def init_app(app: Flask) -> None:
    """Called once, by the app factory (bridge.app.create_app)."""
    app.before_request(_start)
    app.after_request(_finish)


def incoming_id(value: str | None) -> str:
    """The caller's request id when it is safe to log, else a fresh one."""
    if value and _SANE_ID.match(value):
        return value
    return uuid.uuid4().hex


def note(message: str, **fields) -> None:
    """Put `message` and `fields` on this request's log line (the last note wins)."""
    g.request_note = message, fields


def _start() -> None:
    g.request_id = incoming_id(request.headers.get(HEADER))
    g.request_started = time.perf_counter()


def _finish(response):
    request_id = getattr(g, "request_id", None) or incoming_id(None)
    response.headers[HEADER] = request_id
    write_line(request.method, request.path, response.status_code, getattr(g, "request_started", None),
               request_id, g.get("request_note"))
    return response


def write_line(method: str, path: str, status: int, started: float | None, request_id: str,
               noted: tuple[str, dict] | None = None) -> None:
    """The request's one log line: `started` is its `time.perf_counter()` at arrival, `noted`
    what the view said (`note`). Also written by the webhook's own WSGI path
    (bridge.web.ingest_wsgi), which does not go through Flask's request cycle."""
    latency_ms = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
    try:
        fields = {"method": method, "path": path, "status": status, "latency_ms": latency_ms,
                  "request_id": request_id}
        if noted is None:
            log.info("%s %s %s", method, path, status, extra=fields)
        else:
            message, more = noted
            log.info("%s %s %s: %s", method, path, status, message, extra={**more, **fields})
    except Exception:  # noqa: BLE001 - see the failure policy
        pass
