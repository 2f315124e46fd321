"""`bridge worker` before Kustomer is connected: wait for it instead of exiting.

A worker with no Kustomer key would mark every event dead; exiting instead (as it once
did) made Heroku restart it in a crash loop while the admin was still on the setup page.
So it waits, saying why once, and starts as soon as a key is set in the environment or
stored by the console. Events stored meanwhile stay `pending`; the worker takes them at
start.

Failure policy: a mapping with errors is fatal (`MappingError` propagates: the admin must
fix the file); SIGTERM while waiting exits cleanly (status 0), as Heroku expects.
"""
from __future__ import annotations

import logging
import signal
import threading

from typing import Callable

log = logging.getLogger(__name__)
POLL_SECONDS = 3.0


def has_kustomer_key(mapping) -> bool:
    return bool(mapping.kustomer.api_key or any(s.kustomer.api_key for s in mapping.stores.values()))


def wait_for_kustomer(current_mapping: Callable, live, poll: float = POLL_SECONDS) -> bool:
    """Return True once the live mapping (its ${VAR}s read through `live`) has a Kustomer key;
    False when told to stop (SIGTERM/SIGINT) first."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        said = False
        while not stop.is_set():
            live.refresh()
            if has_kustomer_key(current_mapping()):
                if said:
                    log.info("Kustomer settings found: starting")
                return True
            if not said:
                log.warning("waiting for Kustomer settings: connect Kustomer on the console's setup page "
                            "(/admin/setup) or set KUSTOMER_API_KEY; events wait as `pending` until then")
                said = True
            stop.wait(poll)
        return False
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
