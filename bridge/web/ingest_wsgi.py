"""The webhook served straight from WSGI, without Flask's request cycle.

A webhook needs none of what Flask does around a view: no URL map to search (one path), no
session, no request or response object, no before/after hooks beyond the request id and the
log line. Profiled in process (issue 16, docs/design-notes.md "Ingest", third pass), that
cycle cost about half as much as everything the webhook itself does. So `IngestRoute` sits in
front of the Flask app (`app.wsgi_app`, installed by `bridge.app.create_app`, so the test
client goes through it too) and answers `POST /webhooks/okendo` itself, when it carries a
Content-Length: it reads the body, calls `bridge.web.ingest.answer` (the same code the Flask
view calls: signature, envelope, one INSERT), writes the same JSON answer and the same one
log line with the same request id (`bridge.web.requestlog`). Anything else, a webhook of
unknown length included, goes to Flask unchanged, where `bridge.web.ingest.receive` answers it.

Failure policy: as Flask's: an unexpected error is logged with its traceback and answered
500 (raised instead when the app is testing, as Flask does), with the request's log line.
A body shorter than its Content-Length (the sender went away) is answered 400, as Werkzeug
does; under gunicorn `bridge.web.body_deadline` has answered such a request 408 already.
"""
from __future__ import annotations

import logging
import time
from http import HTTPStatus

from bridge.web import ingest, requestlog

log = logging.getLogger(__name__)

_METHOD = "POST"
_JSON = ("Content-Type", "application/json")
_REASONS = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class IngestRoute:
    def __init__(self, wsgi_app, app):
        self.wsgi_app, self.app = wsgi_app, app

    def __call__(self, environ, start_response):
        meta = environ  # (the WSGI request variables, not the process environment)
        if meta.get("PATH_INFO") != ingest.PATH or meta.get("REQUEST_METHOD") != _METHOD:
            return self.wsgi_app(environ, start_response)
        try:
            length = int(meta.get("CONTENT_LENGTH") or "")
        except ValueError:  # none, or not a number: Flask's view reads it as Werkzeug does
            return self.wsgi_app(environ, start_response)
        if length < 0:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = requestlog.incoming_id(meta.get("HTTP_X_REQUEST_ID"))
        try:
            result = self._answer(environ, length)
        except Exception:  # noqa: BLE001 - see the failure policy
            if self._propagates():
                raise
            log.exception("Exception on %s [%s]", ingest.PATH, _METHOD)
            result = ingest.Answer(500, {"error": "internal server error"})
        body = f"{self.app.json.dumps(result.body, separators=(',', ':'))}\n".encode()
        headers = [_JSON, ("Content-Length", str(len(body))), *result.headers, (requestlog.HEADER, request_id)]
        start_response(_REASONS.get(result.status) or str(result.status), headers)
        requestlog.write_line(_METHOD, ingest.PATH, result.status, started, request_id, result.note)
        return [body]

    def _answer(self, environ, length: int) -> ingest.Answer:
        runtime = self.app.extensions["bridge"]
        limit = runtime.settings.max_body_bytes
        if length > limit:
            return ingest.too_large(limit)
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) < length:
            return ingest.Answer(400, {"error": "request body ended early"})
        return ingest.answer(self.app, runtime, body, ingest.webhook_headers(environ))

    def _propagates(self) -> bool:
        propagate = self.app.config.get("PROPAGATE_EXCEPTIONS")
        return (self.app.testing or self.app.debug) if propagate is None else bool(propagate)


def install(app) -> None:
    """Put the webhook's own path in front of `app` (called once, by the app factory)."""
    app.wsgi_app = IngestRoute(app.wsgi_app, app)
