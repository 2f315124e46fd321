"""Who may scrape `/metrics`, and how often it is computed.

`/metrics` runs aggregate queries over the event store. Public and uncached, 24
concurrent scrapers pushed webhook ingest to a 5 s median (Okendo gives up at 15 s).

* `METRICS_TOKEN`: when set, a scrape must send `Authorization: Bearer <token>`
  (Prometheus: `authorization: {credentials: ...}` in the scrape config). On Heroku
  (`DYNO` is set) the app is on the public Internet by definition, so there it is
  required: without it `/metrics` answers 403 saying to set it.
* `ScrapeCache`: the text of the last scrape is reused for `CACHE_SECONDS`; concurrent
  scrapes wait for the one being computed instead of each running the queries.

Failure policy: refusals are plain-text answers (401 bad or missing token, 403 token
required but not configured); the cache never hides an error for longer than its TTL.
"""
from __future__ import annotations

import hmac
import threading
import time
from typing import Callable, Mapping

from bridge.web import hosting

CACHE_SECONDS = 5.0


def refusal(env: Mapping[str, str], authorization: str | None) -> tuple[int, str] | None:
    """(status, message) when this scrape is not allowed; None when it is."""
    token = (env.get("METRICS_TOKEN") or "").strip()
    if not token:
        if hosting.on_heroku(env):
            return 403, "metrics are disabled: set METRICS_TOKEN (required on Heroku) and scrape with it as a bearer token"
        return None
    scheme, _, offered = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), token.encode()):
        return 401, "metrics need Authorization: Bearer <METRICS_TOKEN>"
    return None


class ScrapeCache:
    def __init__(self, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._value: bytes | None = None
        self._at = float("-inf")
        self._lock = threading.Lock()

    def get(self, compute: Callable[[], bytes]) -> bytes:
        with self._lock:  # one scrape computes; the others wait for it and reuse it
            if self._value is None or self.clock() - self._at >= self.seconds:
                self._value, self._at = compute(), self.clock()
            return self._value
