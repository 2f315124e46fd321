"""History benchmark (issue 16): what each read and write costs with many events stored.

Part of `make bench` (`--only history`; `BENCH_HISTORY_EVENTS` sets the size, 1,000,000 by
default, 100,000 with --quick), or alone: `python -m bench.history --events 1000000
[--databases sqlite,postgres]`. For each store, the
figures on an empty store, then again after `--events` delivered events (with one attempt
each) are generated straight into the tables (executemany, not through the app). In-process
(Flask's test client), so the figures are the bridge's own cost without HTTP:
- ingest: one signed webhook stored (mean of 300);
- claim: a worker's `claim_next` (bridge.delivery.queue) finding the next due event (mean of 100; the queue's cost);
- a /metrics scrape (uncached), the console's overview, an email search, the events list (first page), and
  `bridge events list` (its query): mean of 3 each.
Each figure is printed beside the empty-store one and the target (/metrics < 50 ms, pages
< 200 ms, ingest and claim within 10% of empty). End-to-end at 50/s needs the process
harness (`python -m bench --only e2e`) and is not repeated here. Failure policy: none; it
creates a throwaway database and drops it (PostgreSQL) or a temporary file (SQLite).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

NAME = "history"
TARGETS_MS = {"/metrics": 50, "overview": 200, "search": 200, "events page": 200, "events list": 200}
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:bench-password").decode()}


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.mean(times) * 1000


@contextlib.contextmanager
def _store(backend: str, pg_admin_url: str, tmp: str):
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/history.db"
        return
    from .processes import throwaway_postgres

    with throwaway_postgres(pg_admin_url, "bench_history") as url:
        yield url


def _generate(db, count: int, body: bytes) -> None:
    """`count` delivered review events, one attempt each, straight into the tables."""
    from bridge.events.models import Attempt, Event, utcnow

    events, attempts = Event.__table__, Attempt.__table__
    start = utcnow() - timedelta(days=20)
    chunk = 20_000
    with db.engine.begin() as connection:
        first = connection.execute(events.select().with_only_columns(events.c.id)
                                   .order_by(events.c.id.desc()).limit(1)).scalar() or 0
    for offset in range(0, count, chunk):
        rows, tries = [], []
        for n in range(offset, min(count, offset + chunk)):
            at = start + timedelta(seconds=n * 20 * 86400 / max(count, 1))
            rows.append(dict(id=first + n + 1, webhook_id=f"hist_{n}", received_at=at, body=body,
                             headers={}, resource_type="review", topic="created", subscriber_id="sub-1",
                             resource_id=f"rev-{n}", sequence_number="1", sequence_key="1".rjust(40, "0"),
                             email=f"shopper{n}@example.com", status="delivered", attempts=1,
                             updated_at=at, completed_at=at))
            tries.append(dict(event_id=first + n + 1, action_key="hook:reviews", method="POST",
                              target="https://acme.api.kustomerapp.com/v1/hooks/web/…", status_code=200,
                              latency_ms=120.0, started_at=at))
        with db.engine.begin() as connection:
            connection.execute(events.insert(), rows)
            connection.execute(attempts.insert(), tries)
    # The worker folds finished events into the metric counts as they finish
    # (bridge.events.counters); generated rows skipped that, so fold them as it would have,
    # before the statistics and the vacuum a long-running store has had since.
    from bridge.events import counters

    started = time.monotonic()
    folded = counters.fold_all(db)
    print(f"  folded {folded:,} rows into the metric counts in {time.monotonic() - started:.0f} s")
    from sqlalchemy import text

    if db.engine.dialect.name == "sqlite":  # as a long-running store would be: WAL folded in, stats
        with db.engine.begin() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            connection.execute(text("ANALYZE"))
    if db.engine.dialect.name == "postgresql":

        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # The ids were given explicitly: move the sequence past them.
            connection.execute(text("SELECT setval(pg_get_serial_sequence('events', 'id'), max(id)) FROM events"))
            connection.execute(text("VACUUM ANALYZE"))


def _measure(app, runtime, bodies) -> dict[str, float]:
    from bridge.delivery import queue
    from bridge.events import store
    from tests.helpers import signed_headers

    client = app.test_client()
    figures = {}
    batch = [bodies.pop() for _ in range(300)]
    figures["ingest"] = _timed(lambda: client.post("/webhooks/okendo", data=(b := batch.pop()),
                                                   headers=signed_headers(b)), 300)

    def claim():
        with runtime.db.session() as session:
            queue.claim_next(session, 60, "bench")
    figures["claim"] = _timed(claim, 100)
    from prometheus_client import generate_latest

    registry = app.extensions["bridge.metrics"]  # the scrape itself, not its few-second cache
    figures["/metrics"] = _timed(lambda: generate_latest(registry), 3)
    figures["overview"] = _timed(lambda: client.get("/admin/", headers=ADMIN), 3)
    figures["search"] = _timed(lambda: client.get("/admin/events?q=shopper4242@example.com", headers=ADMIN), 3)
    figures["events page"] = _timed(lambda: client.get("/admin/events", headers=ADMIN), 3)

    def events_list():
        with runtime.db.session() as session:
            store.list_events(session, limit=50)
    figures["events list"] = _timed(events_list, 3)
    return figures


def measure_store(backend: str, count: int, pg_admin_url: str) -> tuple[dict, dict]:
    from bridge.app import create_app
    from bridge.config import Settings
    from bridge.events.migrate import upgrade
    from bridge.composition import build_runtime
    from tests.conftest import make_env
    from tests.helpers import sample

    tmp = tempfile.mkdtemp(prefix="bench-history-")
    with _store(backend, pg_admin_url, tmp) as url:
        upgrade(url)
        env = make_env(url, ADMIN_PASSWORD="bench-password", BRIDGE_INSTANCE_DIR=tmp, METRICS_TOKEN="bench-token",
                       BRIDGE_MAPPING_SOURCE="file")
        os.environ.update(env)
        runtime = build_runtime(Settings.from_env(env))
        app = create_app(runtime=runtime)
        payload = sample("review-create-positive.json")
        bodies = []
        for n in range(700):
            payload["resource"]["reviewId"] = f"bench-{uuid.uuid4().hex}"
            bodies.append(json.dumps(payload).encode())
        empty = _measure(app, runtime, bodies)
        started = time.monotonic()
        _generate(runtime.db, count, bodies[0])
        print(f"  {backend}: generated {count:,} events in {time.monotonic() - started:.0f} s")
        full = _measure(app, runtime, bodies)
        runtime.close()
        return empty, full


def run(ctx):
    """`make bench`'s entry: one row per figure, the empty-store figure as the reference."""
    from .harness import BACKEND_LABEL
    from .report import Section, num, verdict

    count = int(os.environ.get("BENCH_HISTORY_EVENTS") or (100_000 if ctx.quick else 1_000_000))
    section = Section(f"History: {count:,} stored events")
    logging.disable(logging.WARNING)
    pg_url = ctx.pg_admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    for backend in ctx.backends:
        empty, full = measure_store(backend, count, pg_url)
        for name in empty:
            target = TARGETS_MS.get(name)
            met = full[name] < target if target else full[name] <= empty[name] * 1.10
            section.row(f"{BACKEND_LABEL[backend]}: {name}", num(full[name], "ms", 2),
                        f"{num(empty[name], 'ms', 2)} empty",
                        f"< {target} ms" if target else "within 10% of empty", verdict(met))
    section.note("in-process (Flask test client, no HTTP); mean of 300 ingests, 100 claims, 3 of the "
                 "rest; events generated straight into the tables; end-to-end is the e2e benchmark")
    return section


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    print(f"history benchmark: {args.events:,} stored events; load average {os.getloadavg()[0]:.1f}")
    for backend in [b.strip() for b in args.databases.split(",") if b.strip()]:
        empty, full = measure_store(backend, args.events, args.pg_url)
        print(f"  {'':12} {'empty':>10} {f'{args.events:,} events':>16}  target")
        for name in empty:
            target = TARGETS_MS.get(name)
            goal = f"< {target} ms" if target else "within 10% of empty"
            met = full[name] < target if target else full[name] <= empty[name] * 1.10
            print(f"  {backend:6} {name:12} {empty[name]:8.2f} ms {full[name]:12.2f} ms   {goal}: "
                  f"{'met' if met else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
