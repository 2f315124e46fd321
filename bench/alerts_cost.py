"""`python -m bench.alerts_cost [--events N] [--pg-url URL]`: what alerts cost.

Prints (no asserts):
- the cost of counting one refused webhook signature in the web process (the only work
  a forged request adds), and the rows written for a flood of them;
- the time of one evaluation round (every condition) over a store of N events, a fifth of
  them dead with a failed attempt each, on SQLite and, when reachable, PostgreSQL.
"""
from __future__ import annotations

import argparse
import time
import uuid
from datetime import timedelta

from bridge.alerts.refusals import RefusalCounter
from bridge.alerts.service import Alerts
from bridge.alerts.settings import AlertSettings
from bridge.events.db import Database
from bridge.events.migrate import upgrade
from bridge.events.models import Attempt, Event, utcnow

from .processes import on_each_store


def refusal_cost(count: int = 200_000) -> None:
    writes = []
    counter = RefusalCounter(lambda n, first, reasons: writes.append(n), interval=5.0)
    started = time.perf_counter()
    for n in range(count):
        counter.note("no signature matches")
    elapsed = time.perf_counter() - started
    counter.flush()
    if counter._timer:
        counter._timer.cancel()
    print(f"refused-signature count: {elapsed / count * 1e9:.0f} ns per refused request; "
          f"{count} refusals -> {len(writes)} database row(s)")


def fill(db: Database, events: int) -> None:
    now = utcnow()
    with db.session() as session:
        for n in range(events):
            dead = n % 5 == 0
            event = Event(webhook_id=f"msg_{uuid.uuid4().hex}", body=b"{}", headers={}, status="dead" if dead else
                          "delivered", attempts=1, resource_type="review", topic="created",
                          received_at=now - timedelta(seconds=n), completed_at=now - timedelta(seconds=n // 2))
            session.add(event)
            session.flush()
            session.add(Attempt(event_id=event.id, action_key="hook:reviews", method="POST",
                                target="https://acme.api.kustomerapp.com/…/review…",
                                status_code=400 if dead else 200, latency_ms=10.0, started_at=event.completed_at))


def round_time(url: str, label: str, events: int) -> None:
    upgrade(url)
    db = Database(url)
    try:
        fill(db, events)
        alerts = Alerts(db, AlertSettings(group_wait=0), channels={})
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            alerts.evaluate()
            timings.append(time.perf_counter() - started)
        print(f"evaluation round, {label}, {events} events ({events // 5} dead): "
              f"first {timings[0] * 1000:.0f} ms, then median {sorted(timings[1:])[2] * 1000:.0f} ms")
    finally:
        db.dispose()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts_cost")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    refusal_cost()
    on_each_store(lambda url, label: round_time(url, label, args.events), args.pg_url, "bench_alerts")


if __name__ == "__main__":
    main()
