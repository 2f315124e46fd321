"""The dispatch queue (huey): it only ever carries an event id.

Which huey: `RedisHuey` when `QUEUE_URL`/`REDIS_URL` names Redis, `PostgresHuey`
when the event store is PostgreSQL, otherwise `SqliteHuey` in a file beside the
SQLite store (a separate file, so queue writes never wait on event writes).

Failure policy: huey deletes a task when a worker takes it, so a crash can lose
a task; enqueueing can fail too. Neither loses an event: the database row is the
truth, and the sweeper (`bridge.sweeper`) re-enqueues events left waiting.
`Dispatcher.enqueue` therefore logs and swallows queue errors.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from huey import Huey, MemoryHuey, PostgresHuey, RedisHuey, SqliteHuey
from sqlalchemy.engine import make_url

from bridge.config import INSTANCE_DIR, Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "okendo-bridge"
TASK_NAME = "bridge.process_event"


def describe_backend(settings: Settings) -> str:
    if settings.queue_url and settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    if settings.queue_url == "memory://":
        return "memory"
    if settings.is_postgres:
        return "postgres"
    return "sqlite"


def make_huey(settings: Settings, *, immediate: bool = False, create_tables: bool = False) -> Huey:
    """Build the huey instance the settings call for (see module docstring).

    On PostgreSQL the queue's tables are made by `bridge db upgrade` (`create_tables=True`
    there): created here, every process would connect at start-up, so a web worker that
    re-boots while the database is down would fail to boot and gunicorn would stop."""
    backend = describe_backend(settings)
    common = dict(name=QUEUE_NAME, results=False, utc=True, immediate=immediate)
    if backend == "redis":
        return RedisHuey(url=settings.queue_url, **common)
    if backend == "memory":
        return MemoryHuey(**common)
    if backend == "postgres":
        url = make_url(settings.database_url).set(drivername="postgresql")
        return PostgresHuey(dsn=url.render_as_string(hide_password=False), create_tables=create_tables, **common)
    # No fsync per queue commit: the events table is the record (it is fsynced), and a task
    # lost with the OS's write cache is found again by the sweeper. This is ingest's largest
    # single cost on SQLite (docs/benchmarks.md).
    return SqliteHuey(filename=str(_sqlite_queue_path(settings)), fsync=False, timeout=15, **common)


def _sqlite_queue_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if database and database != ":memory:":
        path = Path(database).with_name(Path(database).stem + "-queue.db")
    else:
        path = INSTANCE_DIR / "queue.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class Dispatcher:
    """Enqueue "process event N" on huey; the task calls `handler(event_id)` in the worker."""

    def __init__(self, huey: Huey, handler: Callable[[int], None]):
        self.huey = huey
        self._task = huey.task(name=TASK_NAME)(handler)

    def enqueue(self, event_id: int, delay: float | None = None) -> bool:
        try:
            if delay and delay > 0:
                self._task.schedule(args=(event_id,), delay=delay)
            else:
                self._task(event_id)
            return True
        except Exception:  # noqa: BLE001 - the sweeper will find the event; never fail ingest
            log.exception("could not enqueue event %s; the sweeper will pick it up", event_id)
            return False

    def depth(self) -> int | None:
        try:
            return self.huey.pending_count()
        except Exception:  # noqa: BLE001
            return None

    def ping(self) -> bool:
        """True when the queue storage answers (readiness)."""
        return self.depth() is not None
