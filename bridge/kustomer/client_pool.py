"""One Kustomer client per (key, base URL) in a process, shared by all threads.

Sharing matters: the client's connection pool and its pace (requests per minute)
are per org, so every thread of the worker must go through the same one.
"""
from __future__ import annotations

import threading
import time

from bridge.delivery import lease
from bridge.kustomer import attempt_log, KustomerClient
from bridge.kustomer.pacing import Pacer


class ClientPool:
    def __init__(self, settings, sleep=time.sleep):
        self.settings = settings
        self.sleep = sleep  # tests replace it so in-call backoff does not really wait
        self._clients: dict = {}
        self._lock = threading.Lock()

    def for_target(self, target):
        """(client, None), or (None, why not) when the store's Kustomer key is missing."""
        if not target.api_key:
            # missing_env may also name the base URL's variable; only the key's matters here.
            names = [n for n in (target.missing_env or ()) if "KEY" in n] or ["KUSTOMER_API_KEY"]
            return None, f"no Kustomer API key: {', '.join(names)} is not set"
        key = (target.api_key, target.api_base)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._make(target)
            return client, None

    def close(self) -> None:
        """Close every client (and forget their rate-limit pauses)."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _make(self, target):
        return KustomerClient(
            target.api_key, target.api_base,
            pacer=LeaseCheckingPacer(self.settings.kustomer_requests_per_minute, sleep=self.sleep),
            max_attempts=self.settings.kustomer_max_attempts,
            max_wait=self.settings.kustomer_max_wait,
            on_attempt=attempt_log.record,
            sleep=self.sleep,
        )


class LeaseCheckingPacer(Pacer):
    """The pace, plus one check once the wait is over: the event round calling still holds
    its lease. The heartbeat renews the lease through any wait, so waiting for the pace is
    progress; a round that lost its event meanwhile stops here instead of sending."""

    def acquire(self) -> float:
        waited = super().acquire()
        lease.check_current()
        return waited
