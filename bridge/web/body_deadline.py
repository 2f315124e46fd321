"""A time limit on reading a request body, so a slow sender cannot hold a web thread.

gunicorn's threaded workers give each request a thread, and reading the body blocks
that thread for as long as the client takes to send it. Eight clients that sent their
bodies a byte at a time made three of four genuine webhooks time out. This WSGI
middleware reads the whole body (at most the body limit + 1 byte) before the app runs,
within `BRIDGE_BODY_READ_SECONDS` (default 10; Okendo sends a webhook in milliseconds):

* every `recv` waits at most the time left (the socket's timeout), and
* a watchdog shuts the socket's reading side at the deadline, which ends a client that
  trickles one byte just inside each timeout. One watchdog thread per process watches every
  read in progress (`Watchdog`): a thread started per request (a `threading.Timer`) cost more
  than the rest of the body read, mostly waiting for the new thread to be scheduled (issue 16).

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
import os
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
        watch = watchdog().watch(sock, deadline)
        previous = sock.gettimeout()
        parts, size = [], 0
        try:
            while size < wanted:
                left = deadline - time.monotonic()
                if left <= 0 or watch.expired:
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
            expired = watch.cancel()
            try:
                sock.settimeout(previous)
            except OSError:
                pass
        return None if expired else b"".join(parts)


class Watch:
    """One body read being watched. `expired` and `cancelled` change under the watchdog's lock,
    so a read that ends just as its deadline passes is either cut off (and answered 408) or
    left alone, never cut off after it was answered."""

    __slots__ = ("sock", "deadline", "expired", "cancelled", "_watchdog")

    def __init__(self, watchdog_: "Watchdog", sock, deadline: float):
        self.sock, self.deadline, self._watchdog = sock, deadline, watchdog_
        self.expired = self.cancelled = False

    def cancel(self) -> bool:
        """Stop watching; True when the deadline had already cut the read off."""
        return self._watchdog.cancel(self)


class Watchdog:
    """One thread that shuts the reading side of every watched socket whose deadline passed.

    Reads in progress are few (at most one per gunicorn thread), so they sit in a set that the
    thread looks through every `tick` seconds while any is watched, and it sleeps while none
    is. A deadline is therefore met up to `tick` late, which is nothing beside the deadline."""

    def __init__(self, tick: float = 0.1):
        self.tick = tick
        self._lock = threading.Condition()
        self._watched: set[Watch] = set()
        self._thread: threading.Thread | None = None
        self._idle = False  # the thread sleeps until a read is watched (not woken per read otherwise)

    def watch(self, sock, deadline: float) -> Watch:
        entry = Watch(self, sock, deadline)
        with self._lock:
            self._watched.add(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            elif self._idle:
                self._idle = False
                self._lock.notify()
        return entry

    def cancel(self, entry: Watch) -> bool:
        with self._lock:
            entry.cancelled = True
            self._watched.discard(entry)
            return entry.expired

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._watched:
                    self._idle = True
                    while self._idle:
                        self._lock.wait()
                    continue
                now = time.monotonic()
                due = [entry for entry in self._watched if entry.deadline <= now]
                for entry in due:
                    entry.expired = True
                    self._watched.discard(entry)
                    try:
                        entry.sock.shutdown(socket.SHUT_RD)  # the blocked recv returns at once
                    except OSError:
                        pass
                self._lock.wait(self.tick)


_watchdog: Watchdog | None = None
_watchdog_pid: int | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog (a forked gunicorn worker gets its own: threads do not survive a fork)."""
    global _watchdog, _watchdog_pid
    if _watchdog is None or _watchdog_pid != os.getpid():
        with _watchdog_lock:
            if _watchdog is None or _watchdog_pid != os.getpid():
                _watchdog, _watchdog_pid = Watchdog(), os.getpid()
    return _watchdog


def wrap(app, settings) -> "BodyDeadline":
    """`app` with the body deadline of `settings` (`BRIDGE_BODY_READ_SECONDS`; 0 turns it off)."""
    return BodyDeadline(app, settings.body_read_seconds, settings.max_body_bytes)
