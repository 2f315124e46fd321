"""Kustomer's 120 custom-object creates per minute per customer, kept on our side.

Kustomer answers 429 beyond it. A burst for one shopper (a backfill replay, a store
importing reviews) would otherwise spend a request per refusal; instead the bridge
counts its own creates per customer and, when the minute is full, sends nothing and
retries the event once a slot frees. Per process, like the pacer: with several workers
Kustomer's 429s (retried on the schedule) remain the backstop.
Failure policy: never raises; ``reserve`` only answers how long to wait.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

CREATES_PER_MINUTE = 120
WINDOW_SECONDS = 60.0


class PerCustomerCreateLimit:
    def __init__(self, limit: int = CREATES_PER_MINUTE, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._creates: dict[str, deque] = {}
        self._lock = threading.Lock()

    def reserve(self, customer_id: str) -> float | None:
        """Take a create slot for this customer: None when taken, else seconds to wait."""
        with self._lock:
            now = self.clock()
            times = self._creates.setdefault(customer_id, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(0.001, times[0] + self.window - now)
            times.append(now)
            if len(self._creates) > 10_000:  # forget idle customers; memory stays bounded
                for key in [k for k, v in self._creates.items() if not v]:
                    del self._creates[key]
            return None
