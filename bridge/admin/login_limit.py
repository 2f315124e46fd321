"""A brake on guessing the admin password, applied before any password hash is computed.

Why: with `ADMIN_PASSWORD_HASH` each wrong guess costs ~140 ms of scrypt, so 64
parallel guessers starved the webhook; and with no limit one client could try about 890
passwords a second. Failed logins are counted per client address (see
`bridge.web.hosting.client_ip`) and overall, in a sliding window:

* `PER_CLIENT` failures in `WINDOW_SECONDS` from one address: that address gets 429
  until its oldest failure leaves the window;
* `OVERALL` failures in the window from everyone: every login that is not already known
  (a remembered session, a password this process verified before) gets 429, so a
  distributed guesser cannot buy CPU either; the admin already logged in keeps working.

Counts are per web process (each gunicorn process and dyno keeps its own), so the
effective limits are these times the number of processes: still far from 890/s.

Failure policy: never raises; only failures are counted; memory is bounded (at most
`MAX_CLIENTS` addresses are tracked; the least recently failing are forgotten).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

PER_CLIENT = 10
OVERALL = 100
WINDOW_SECONDS = 300.0
MAX_CLIENTS = 10_000


class LoginLimiter:
    def __init__(self, per_client: int = PER_CLIENT, overall: int = OVERALL, window: float = WINDOW_SECONDS,
                 clock=time.monotonic):
        self.per_client, self.overall, self.window, self.clock = per_client, overall, window, clock
        self._clients: OrderedDict[str, deque] = OrderedDict()
        self._all: deque = deque()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again; None when it may try now."""
        now = self.clock()
        with self._lock:
            self._expire(self._all, now)
            failures = self._clients.get(client)
            if failures is not None:
                self._expire(failures, now)
            waits = []
            if failures and len(failures) >= self.per_client:
                waits.append(failures[0] + self.window - now)
            if len(self._all) >= self.overall:
                waits.append(self._all[0] + self.window - now)
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            failures = self._clients.pop(client, None) or deque()
            failures.append(now)
            self._clients[client] = failures  # most recent last
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            self._all.append(now)
            self._expire(self._all, now)

    def _expire(self, stamps: deque, now: float) -> None:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
