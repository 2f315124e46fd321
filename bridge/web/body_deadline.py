"""A time limit on reading a request body, so a slow sender cannot hold a web thread.

gunicorn's threaded workers give each request a thread, and reading the body blocks
that thread for as long as the client takes to send it. Eight clients that sent their
bodies a byte at a time made three of four genuine webhooks time out. This WSGI
middleware reads the whole body (at most the body limit + 1 byte) before the app runs,
within `BRIDGE_BODY_READ_SECONDS` (default 10; Okendo sends a webhook in milliseconds):

* every `recv` waits at most the time left (the socket's timeout), and
* a watchdog shuts the socket's reading side at the deadline, which ends a client that
  trickles one byte just inside each timeout.

A body not complete by then is answered 408 and the connection closed; nothing is
stored (a genuine sender retries). The app then reads the body from memory.

Only under gunicorn (it exposes the socket as `gunicorn.socket`); elsewhere (tests,
`flask run`) the app is called unchanged. Headers sent slowly are not covered: a
buffering proxy in front is the answer for that (docs/operations.md), and Heroku's
router is one.

Failure policy: never raises to gunicorn; a timed-out or broken read is a 408.
"""
from __future__ import annotations

import io
import logging
import socket
import threading
import time

log = logging.getLogger(__name__)
CHUNK = 64 * 1024


class BodyDeadline:
    def __init__(self, app, seconds: float, limit: int):
        self.app, self.seconds, self.limit = app, seconds, limit

    def __call__(self, environ, start_response):
        meta = environ  # (the WSGI request variables, not the process environment)
        sock = meta.get("gunicorn.socket")
        chunked = "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if sock is None or (length <= 0 and not chunked) or self.seconds <= 0:
            return self.app(environ, start_response)
        wanted = min(length, self.limit + 1) if length > 0 else self.limit + 1
        body = self._read(environ["wsgi.input"], sock, wanted)
        if body is None or (length > 0 and len(body) < wanted):
            log.warning("request body not received within %.0f s; answered 408", self.seconds,
                        extra={"method": meta.get("REQUEST_METHOD"), "path": meta.get("PATH_INFO")})
            start_response("408 Request Timeout", [("Content-Type", "application/json"), ("Connection", "close")])
            return [b'{"error": "request body not received in time"}']
        environ["wsgi.input"] = io.BytesIO(body)
        if chunked:  # the app sees a plain body of known length
            meta["CONTENT_LENGTH"] = str(len(body))
            meta.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)

    def _read(self, stream, sock, wanted: int) -> bytes | None:
        deadline = time.monotonic() + self.seconds
        expired = threading.Event()

        def cut_off():
            expired.set()
            try:
                sock.shutdown(socket.SHUT_RD)  # the blocked recv returns at once
            except OSError:
                pass

        watchdog = threading.Timer(self.seconds, cut_off)
        watchdog.daemon = True
        watchdog.start()
        previous = sock.gettimeout()
        parts, size = [], 0
        try:
            while size < wanted:
                left = deadline - time.monotonic()
                if left <= 0 or expired.is_set():
                    return None
                sock.settimeout(left)
                chunk = stream.read(min(CHUNK, wanted - size))
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
        except (OSError, ValueError):  # socket.timeout is an OSError; a cut-off stream may raise either
            return None
        finally:
            watchdog.cancel()
            try:
                sock.settimeout(previous)
            except OSError:
                pass
        return None if expired.is_set() else b"".join(parts)


def wrap(app, settings) -> "BodyDeadline":
    """`app` with the body deadline of `settings` (`BRIDGE_BODY_READ_SECONDS`; 0 turns it off)."""
    return BodyDeadline(app, settings.body_read_seconds, settings.max_body_bytes)
