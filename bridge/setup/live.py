"""The settings a running process uses: the environment first, then the console's stored ones.

`LiveSettings` is a read-only mapping of variable names to values, used wherever the code
reads Okendo or Kustomer settings at run time (the mapping's `${VAR}` references, the
webhook secrets). An environment variable that is set and not empty always wins; a stored
value fills in for one that is not. Stored values are re-read at most every `ttl` seconds,
so a change made on the setup page reaches every web process and the worker within a few
seconds, without a restart.

Failure policy: reading the stored values never fails a caller. When the database cannot
be read (down, or not migrated yet) the last values read stay in use and the reason is kept
in `problems`, which the setup page shows.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Callable, Iterator

from bridge.mapping.source import mapping_store
from bridge.okendo.signing_secrets import split_secrets
from bridge.setup import stored
from bridge.setup.vault import Vault

log = logging.getLogger(__name__)

ENVIRONMENT, CONSOLE = "environment", "console"


class LiveSettings(Mapping):
    def __init__(self, env: Mapping[str, str], db=None, vault: Vault | None = None, ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.env = env
        self.db = db
        self.vault = vault or Vault(env.get("SECRET_KEY"))
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: dict[str, str] = {}
        self._read_at: float | None = None
        self.problems: list[str] = []
        self.version = 0  # changes whenever the stored values do

    # -- the mapping interface: effective values ---------------------------------------
    def __getitem__(self, name: str) -> str:
        value = self.env.get(name)
        if value:
            return value
        value = self.stored().get(name)
        if value is None:
            raise KeyError(name)
        if name == stored.WEBHOOK_SECRET:
            return ",".join(stored.active_secrets(value))
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(set(self.env) | set(self.stored()))

    def __len__(self) -> int:
        return len(set(self.env) | set(self.stored()))

    # -- what the setup page and ingest ask ------------------------------------------
    def source(self, name: str) -> str | None:
        """Where the value in use comes from: 'environment', 'console', or None (unset)."""
        if self.env.get(name):
            return ENVIRONMENT
        return CONSOLE if self.stored().get(name) else None

    def webhook_secrets(self) -> tuple[str, ...]:
        return split_secrets(self.get(stored.WEBHOOK_SECRET))

    def stored(self) -> dict[str, str]:
        """The decrypted stored values, re-read when older than `ttl`."""
        read_at = self._read_at
        if read_at is not None and self._clock() - read_at < self.ttl:
            return self._stored
        with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self.ttl:
                self._refresh()
        return self._stored

    def refresh(self) -> None:
        """Read the stored values now (after the setup page changed them)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        self._read_at = self._clock()
        if self.db is None:
            return
        try:
            with self.db.session() as session:
                values, problems = stored.read_all(session, self.vault)
        except Exception as exc:  # noqa: BLE001 - keep the last values; the page shows why
            problems = [f"the stored settings cannot be read ({type(exc).__name__}); "
                        "run `bridge db upgrade` if the database is new"]
            if problems != self.problems:
                log.warning("stored settings: %s: %s", problems[0], exc)
            self.problems = problems
            return
        self.problems = problems
        if values != self._stored:
            self._stored = values
            self.version += 1


class LiveMappings:
    """A mapping store that also reloads when the settings its `${VAR}`s name change.

    Wraps the process's mapping store (same interface); everything else is passed through."""

    def __init__(self, inner, live: LiveSettings):
        self._inner = inner
        self._live = live
        self._seen = live.version
        self._lock = threading.Lock()

    def current(self):
        self._live.stored()  # refreshes when due
        if self._live.version != self._seen:
            with self._lock:
                if self._live.version != self._seen:
                    self._seen = self._live.version
                    return self._inner.reload()
        return self._inner.current()

    def reload(self):
        return self._inner.reload()

    def close(self) -> None:
        """Stop what the store runs in the background (the database store's change listener);
        a file store runs nothing."""
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def live_settings_and_mappings(settings, db) -> tuple[LiveSettings, LiveMappings]:
    """What a process reads its settings and its live mapping through (runtime, CLI)."""
    live = LiveSettings(settings.raw, db)
    return live, LiveMappings(mapping_store(settings, db, env=live), live)
