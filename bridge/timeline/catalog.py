"""Which klasses exist in each Kustomer org, asked once and remembered.

"The timeline route is on when the klasses exist" is decided here, at delivery time, per org:
- the klass exists: cards are written;
- the klass is missing (GetKlasses answered, without it), or the key may not list klasses
  (403): the route is *off* for that org, with the reason. The event is not failed and
  the card is not recorded as done, so after `bridge kustomer setup-timeline` (or a key
  with the role) a replay adds the missing cards. The answer is asked again after
  ``MISSING_TTL`` seconds, so a setup takes effect by itself;
- any other failure of the lookup is raised: a 401 (a bad key: nothing else works either)
  is a configuration error, so the event is dead with that message; 5xx/429 are retried.
Why a 403 turns the route off rather than failing the event: the shipped mapping has the
route on, and keys made before it (hook and ticket roles only) must keep delivering.
A klass that exists is remembered for the process's life (klasses holding cards cannot be
deleted in Kustomer).
"""
from __future__ import annotations

import threading
import time
from typing import Callable
from bridge.kustomer.errors import ConfigurationError
from bridge.kustomer.kobjects import klass_names, list_klasses

MISSING_TTL = 60.0
READ_ROLE = "org.permission.klass.read (legacy org.user.klass.read or org.admin.klass.read)"


class KlassCatalog:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._known: dict[tuple, tuple[set[str], float, str | None]] = {}
        self._lock = threading.Lock()

    def why_not(self, client, name: str) -> str | None:
        """None when the klass exists; else why the timeline route is off for this org."""
        key = (client.api_base, id(client))
        with self._lock:
            names, fetched, refused = self._known.get(key, (set(), float("-inf"), None))
        if name in names:
            return None
        if self.clock() - fetched >= MISSING_TTL:
            try:
                names, refused = klass_names(list_klasses(client)), None
            except ConfigurationError as exc:
                if exc.status != 403:
                    raise
                names, refused = set(), f"the API key may not list klasses: it lacks {READ_ROLE}"
            with self._lock:
                self._known[key] = (names, self.clock(), refused)
            if name in names:
                return None
        return ((refused or f"the Kustomer klass {name!r} does not exist")
                + ", so the timeline route is off for this org; run `bridge kustomer setup-timeline`,"
                " then replay the events to add their cards")

    def known_off(self, client, name: str) -> bool:
        """True when `why_not` would answer "off" from what it knows, without asking Kustomer
        (the klass was missing at a look-up less than MISSING_TTL ago)."""
        with self._lock:
            names, fetched, _refused = self._known.get((client.api_base, id(client)), (set(), float("-inf"), None))
        return name not in names and self.clock() - fetched < MISSING_TTL

    def forget(self) -> None:
        with self._lock:
            self._known.clear()
