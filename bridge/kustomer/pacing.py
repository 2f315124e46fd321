"""Client-side pacing: stay under Kustomer's per-minute budget before Kustomer says 429.

Kustomer counts requests per org per 60 s window and answers 429 until the window resets.
Hitting that wall stalls every sender in the org, so each process paces itself:

* a GCRA token bucket spreads calls out at ``requests_per_minute / 60`` per second and
  allows a burst of about one second's worth (``max(1, rpm // 60)`` calls at once);
* a sliding log of the last ``requests_per_minute`` grants makes sure no 60 s window ever
  holds more than the budget, even right after a burst;
* ``pause_until(deadline)`` is called by the client after a 429 that says when the window
  resets, so every thread sharing this pacer holds back instead of collecting 429s too.

Failure policy: the pacer never raises and never drops a call; ``acquire()`` only blocks.
Each caller reserves its slot under a lock and then sleeps outside it, so threads are
served in arrival order and the lock is never held while sleeping. A pause that begins
after a thread has reserved its slot does not move that slot (the client checks the pause
before sending; see ``KustomerClient``).

The budget is per process: share one ``Pacer`` between all clients in a process, and give
each process its share of the org's budget (the org-wide limit is shared by every key).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

WINDOW_SECONDS = 60.0
TOO_SHORT_TO_SLEEP = 1e-6  # float drift in the bucket arithmetic, not a real wait


class Pacer:
    """Block in ``acquire()`` until one more call fits the per-minute budget.

    ``requests_per_minute=0`` turns pacing off; pauses from ``pause_until`` still apply,
    because they come from Kustomer itself.
    """

    def __init__(
        self,
        requests_per_minute: int = 600,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute < 0:
            raise ValueError("requests_per_minute must be >= 0")
        self.requests_per_minute = requests_per_minute
        self.clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = float("-inf")
        if requests_per_minute:
            self._interval = WINDOW_SECONDS / requests_per_minute
            burst = max(1, requests_per_minute // 60)
            # GCRA: a call may go once the clock reaches tat - tolerance.
            self._tolerance = (burst - 1) * self._interval
            self._tat = float("-inf")  # "theoretical arrival time" of the next call
            self._grants: deque[float] = deque(maxlen=requests_per_minute)

    def acquire(self) -> float:
        """Block until a call may go; return how long this call waited (seconds)."""
        with self._lock:
            now = self.clock()
            at = max(now, self._paused_until)
            if self.requests_per_minute:
                at = max(at, self._tat - self._tolerance)
                if len(self._grants) == self._grants.maxlen:
                    # The oldest of the last `budget` grants must leave the window first.
                    at = max(at, self._grants[0] + WINDOW_SECONDS)
                if self._grants:
                    at = max(at, self._grants[-1])  # keep the log in time order
                self._tat = max(self._tat, at) + self._interval
                self._grants.append(at)
        wait = at - now
        if wait > TOO_SHORT_TO_SLEEP:
            self._sleep(wait)
            return wait
        return 0.0

    def pause_until(self, deadline: float) -> None:
        """Hold every later ``acquire()`` until ``deadline`` (a value of ``self.clock``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, deadline)

    def pause_for(self, seconds: float) -> None:
        """``pause_until(now + seconds)`` on this pacer's own clock."""
        self.pause_until(self.clock() + seconds)

    def pause_remaining(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self.clock())
