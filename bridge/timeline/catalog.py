"""Which klasses exist in each Kustomer org, asked once and remembered.

"The timeline route is on when the klasses exist" is decided here, at delivery time:
- the klass exists: cards are written;
- the klass is missing (GetKlasses answered, without it): the route is *inactive* for
  that org. The event is not failed and nothing is recorded as done, so once an admin
  runs `bridge kustomer setup-timeline`, a replay adds the missing cards. A missing
  klass is looked up again after ``MISSING_TTL`` seconds, so setup takes effect by itself;
- the lookup itself fails: the client's error is raised (a 401/403 is a configuration
  error naming the role, so the event is dead with that message; 5xx/429 are retried).
A klass that exists is remembered for the process's life (klasses are not deleted while
they hold cards).
"""
from __future__ import annotations

import threading
import time
from typing import Callable

MISSING_TTL = 60.0


class KlassCatalog:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._known: dict[tuple, tuple[set[str], float]] = {}
        self._lock = threading.Lock()

    def exists(self, client, name: str) -> bool:
        from bridge.kustomer.kobjects import klass_names, list_klasses

        key = (client.api_base, id(client))
        with self._lock:
            names, fetched = self._known.get(key, (set(), float("-inf")))
        if name in names:
            return True
        if self.clock() - fetched < MISSING_TTL:
            return False
        names = klass_names(list_klasses(client))
        with self._lock:
            self._known[key] = (names, self.clock())
        return name in names

    def forget(self) -> None:
        with self._lock:
            self._known.clear()
