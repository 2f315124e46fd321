"""PostgreSQL LISTEN for newly published mapping versions, in a daemon thread.

A publish sends ``NOTIFY bridge_mapping, '<version>'`` in its transaction; this thread
holds one extra connection (autocommit, outside the pool) per process, and on each
notification calls ``on_notify`` so the store looks at the database on its next use.

Failure policy: a lost connection is retried every ``RECONNECT_SECONDS``; while it is
down :attr:`healthy` is False and the store falls back to checking every second, so a
publish is still picked up within the promised five seconds. Nothing here raises into
the process.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import make_url

from bridge.mapping.versions import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 5.0
WAKE_SECONDS = 5.0  # how often the loop checks whether it was asked to stop


class VersionListener:
    def __init__(self, database_url: str, on_notify):
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._stop = threading.Event()
        self.healthy = False
        self._thread = threading.Thread(target=self._run, name="mapping-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        # Imported here: only a PostgreSQL store listens; a SQLite-only process need not
        # load the driver.
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5,
                                     application_name="bridge-mapping-listener") as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.healthy = True
                    self._on_notify()  # anything published while we were not listening
                    while not self._stop.is_set():
                        for _ in connection.notifies(timeout=WAKE_SECONDS):
                            self._on_notify()
            except Exception as error:  # noqa: BLE001 - see the failure policy
                if self.healthy and not self._stop.is_set():
                    log.warning("mapping listener lost its connection (%s); checking every second until"
                                " it is back", type(error).__name__)
                self.healthy = False
                self._stop.wait(RECONNECT_SECONDS)
        self.healthy = False
